package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"time"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/lint"
	"github.com/pkid/pkid/core/ca/profile"
)

// DefaultResponderValidity is the lifetime of delegated OCSP responder
// certificates: short, because id-pkix-ocsp-nocheck means clients never
// check their revocation (RFC 6960, section 4.2.2.2.1).
const DefaultResponderValidity = 30 * 24 * time.Hour

// SignOCSPResponder issues a delegated OCSP responder certificate for the
// CSR: digital signature, id-kp-OCSPSigning and id-pkix-ocsp-nocheck, no
// revocation URLs. Errors are Sign's.
func (i *Issuer) SignOCSPResponder(ctx context.Context, csrPEM []byte, validity time.Duration) (*Certificate, error) {
	if validity <= 0 {
		validity = DefaultResponderValidity
	}
	cr, err := csr.ParseCSR(csrPEM)
	if err != nil {
		code := CodeCSRDecode
		if errors.Is(err, csr.ErrCSRSignature) {
			code = CodeCSRInvalid
		}
		return nil, errorf(code, err, "bad certificate request")
	}
	if err := checkSubjectKey(cr.PublicKey); err != nil {
		return nil, err
	}
	p := &profile.Profile{Name: "ocsp-responder", Usages: []string{"digital signature", "ocsp signing"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		Expiry: validity, OCSPNoCheck: true}
	req := SignRequest{CSR: csrPEM}
	t, warnings, err := i.template(cr, req, p)
	if err != nil {
		return nil, err
	}
	t.OCSPServer, t.CRLDistributionPoints = nil, nil
	l, err := lint.New(profile.Lint{})
	if err != nil {
		return nil, err
	}
	ws, _, err := preIssuanceLint(l, t, i.cfg.Certificate, cr.PublicKey, i.cfg.Signer.Public())
	if err != nil {
		return nil, err
	}
	return i.issue(ctx, t, cr.PublicKey, p, req, append(warnings, ws...))
}
