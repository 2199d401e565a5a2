package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
)

// RFC 6962 extensions: the precertificate poison (critical, NULL) and the
// embedded SCT list (an OCTET STRING holding the TLS-encoded list).
var (
	OIDCTPoison  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	OIDCTSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
)

// SCTSource obtains SCTs for a precertificate. core/ct implements it over
// HTTP, which core/ca stays free of (docs/architecture.md).
type SCTSource interface {
	// SCTs submits chain (the precertificate's DER, then its issuer's,
	// then the issuer's own chain) to the logs of policy and returns once
	// the policy is met. Errors: the policy cannot be met; the message
	// names every log that failed and why.
	SCTs(ctx context.Context, policy *config.CTPolicy, chain [][]byte) (*SCTList, error)
}

// SCTList is what an SCTSource returns.
type SCTList struct {
	// Encoded is the TLS-encoded SignedCertificateTimestampList (RFC 6962
	// section 3.3), the content of the embedded extension.
	Encoded []byte
	SCTs    []SCT
}

// SCT describes one verified SCT.
type SCT struct {
	LogURL    string    `json:"log_url"`
	LogID     []byte    `json:"log_id"`
	Timestamp time.Time `json:"timestamp"`
	// Raw is the TLS-encoded SCT.
	Raw []byte `json:"sct"`
}

// ctIssuance is the CT part of one issuance.
type ctIssuance struct {
	precertDER []byte
	scts       *SCTList
	warnings   []string
}

// precertificate signs t as a precertificate (t plus the poison
// extension, linted like the final certificate), has it logged under the
// profile's policy and adds the SCT list to t. The final certificate then
// differs from the precertificate only by poison versus SCT list, in the
// same place among the extensions, which is what makes the SCTs verify.
func (i *Issuer) precertificate(ctx context.Context, t *x509.Certificate, pub crypto.PublicKey, p *profile.Profile) (*ctIssuance, error) {
	if i.cfg.SCTs == nil {
		return nil, errorf(CodeCTSubmission, nil, "profile %q has a ct block but this issuer cannot submit to CT logs", p.Name)
	}
	pre := *t
	pre.ExtraExtensions = append(slices.Clip(t.ExtraExtensions), pkix.Extension{Id: OIDCTPoison, Critical: true, Value: asn1.NullBytes})
	out := &ctIssuance{}
	c, err := i.construct(ctx, &pre, pub, i.linters[p.Name])
	if err != nil {
		return nil, fmt.Errorf("precertificate: %w", err)
	}
	for _, w := range c.warnings {
		out.warnings = append(out.warnings, "precertificate: "+w)
	}
	der := c.der
	chain := [][]byte{der, i.cfg.Certificate.Raw}
	for _, c := range i.cfg.Chain {
		chain = append(chain, c.Raw)
	}
	scts, err := i.cfg.SCTs.SCTs(ctx, p.CT, chain)
	if err != nil {
		return nil, errorf(CodeCTSubmission, err, "certificate transparency")
	}
	value, err := asn1.Marshal(scts.Encoded)
	if err != nil {
		return nil, fmt.Errorf("ca: encoding the SCT list: %w", err)
	}
	t.ExtraExtensions = append(slices.Clip(t.ExtraExtensions), pkix.Extension{Id: OIDCTSCTList, Value: value})
	out.precertDER, out.scts = der, scts
	return out, nil
}

// metadata adds the CT record to the caller's metadata: the certstore
// keeps one record per serial and AKI, the final certificate's, so a
// precertificate never shadows it in lookups, OCSP or CRLs (revoking the
// serial revokes both); the precertificate and the SCTs ride in that
// record under "ct" (docs/ct.md).
func (c *ctIssuance) metadata(m json.RawMessage) (json.RawMessage, error) {
	rec := map[string]any{"precertificate": c.precertDER, "scts": c.scts.SCTs}
	obj := map[string]json.RawMessage{}
	if len(m) > 0 {
		if err := json.Unmarshal(m, &obj); err != nil || obj == nil {
			// Not an object: keep it whole beside the CT record.
			obj = map[string]json.RawMessage{"metadata": m}
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("ca: CT metadata: %w", err)
	}
	obj["ct"] = b
	return json.Marshal(obj)
}
