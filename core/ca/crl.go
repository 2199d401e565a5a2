package ca

import (
	"context"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"

	"github.com/pkid/pkid/sdk"
)

// CRLRequest asks for a full CRL of this issuer.
type CRLRequest struct {
	// Store holds the revocations; nil means the CA's own certstore.
	Store sdk.CertStore
	// Validity is the time to NextUpdate (default 7 days, CFSSL's).
	Validity time.Duration
	Now      time.Time // zero: now
}

// CRL builds and signs (through the CA's keystore) a full CRL listing the
// issuer's revoked certificates that have not yet expired, with their
// revocation time and reason. The CRL number is the issue time in
// nanoseconds since the epoch, so it increases monotonically without
// shared state, across nodes too.
func (i *Issuer) CRL(ctx context.Context, req CRLRequest) ([]byte, error) {
	if req.Store == nil {
		req.Store = i.cfg.Store
	}
	if req.Store == nil {
		return nil, fmt.Errorf("ca: crl: the CA %q has no certstore", i.cfg.Label)
	}
	now := req.Now
	if now.IsZero() {
		now = i.cfg.Now()
	}
	now = now.UTC()
	validity := req.Validity
	if validity <= 0 {
		validity = 7 * 24 * time.Hour
	}
	var entries []x509.RevocationListEntry
	err := req.Store.List(ctx, sdk.ListFilter{IssuerLabel: i.cfg.Label, Status: sdk.StatusRevoked, ExpiresAfter: now},
		func(r *sdk.CertRecord) error {
			serial, ok := new(big.Int).SetString(r.Serial, 10)
			if !ok {
				return fmt.Errorf("stored serial %q is not decimal", r.Serial)
			}
			entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: r.RevokedAt.UTC(), ReasonCode: r.RevocationReason})
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("ca: crl: listing revoked certificates: %w", err)
	}
	tmpl := &x509.RevocationList{
		Number:                    big.NewInt(now.UnixNano()),
		ThisUpdate:                now,
		NextUpdate:                now.Add(validity),
		RevokedCertificateEntries: entries,
	}
	if i.cfg.Certificate.NotAfter.Before(tmpl.NextUpdate) {
		tmpl.NextUpdate = i.cfg.Certificate.NotAfter
	}
	der, err := x509.CreateRevocationList(i.cfg.Rand, tmpl, i.cfg.Certificate, i.cfg.Signer)
	if err != nil {
		return nil, fmt.Errorf("ca: crl: signing: %w", err)
	}
	return der, nil
}
