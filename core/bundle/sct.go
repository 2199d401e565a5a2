package bundle

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"
	"time"
)

// SCTVerifier checks the SCTs embedded in a leaf (RFC 6962 section 3.3).
// core/ct implements it over a CT log list; the bundler reports its
// results in the bundle's "scts" field and status messages
// (docs/ct.md).
type SCTVerifier interface {
	// VerifySCTs returns one result per SCT embedded in leaf, checked
	// against issuer (the next certificate of the chosen chain). Errors:
	// the SCT list does not parse; ctx's error.
	VerifySCTs(ctx context.Context, leaf, issuer *x509.Certificate) ([]SCTResult, error)
}

// SCTResult is one embedded SCT's verification.
type SCTResult struct {
	// LogID is the SCT's log ID, hex.
	LogID string `json:"log_id"`
	// LogURL is the log's URL when the log list knows the log.
	LogURL    string    `json:"log_url,omitempty"`
	Timestamp time.Time `json:"timestamp"`
	// Result is SCTVerified, SCTUnknownLog, "invalid: WHY" or
	// "not verified: WHY" (the log list could not be read).
	Result string `json:"result"`
}

// Results of SCTResult.
const (
	SCTVerified   = "verified"
	SCTUnknownLog = "unknown log"
)

var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// verifySCTs fills b.SCTs for a leaf carrying an SCT list, when the
// bundler has a verifier, and adds a status message for each SCT that
// did not verify. chain is the full chosen chain (root included). A
// failure here never fails the bundle: CFSSL bundles such certificates.
func (b *Bundle) verifySCTs(ctx context.Context, v SCTVerifier, chain []*x509.Certificate) error {
	if v == nil || !hasExtension(chain[0], oidSCTList) {
		return nil
	}
	b.SCTs = []SCTResult{}
	if len(chain) < 2 {
		b.Status.Messages = append(b.Status.Messages, "The certificate's SCTs were not verified: the chain has no issuer.")
		return nil
	}
	rs, err := v.VerifySCTs(ctx, chain[0], chain[1])
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.Status.Messages = append(b.Status.Messages, fmt.Sprintf("The certificate's embedded SCT list is malformed: %v.", strings.TrimSuffix(err.Error(), ".")))
		return nil
	}
	for _, r := range rs {
		b.SCTs = append(b.SCTs, r)
		switch {
		case r.Result == SCTVerified:
		case r.Result == SCTUnknownLog:
			b.Status.Messages = append(b.Status.Messages, fmt.Sprintf("The certificate has an SCT from a log not in the CT log list (log ID %s).", r.LogID))
		default:
			log := r.LogURL
			if log == "" {
				log = "log ID " + r.LogID
			}
			b.Status.Messages = append(b.Status.Messages, fmt.Sprintf("The certificate's SCT from %s is %s.", log, r.Result))
		}
	}
	return nil
}
