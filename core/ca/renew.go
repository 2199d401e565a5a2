package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"time"

	"github.com/pkid/pkid/core/ca/profile"
)

// RenewCA re-issues the self-signed CA certificate cert with its own key:
// same subject (byte for byte), public key, extensions (in order) and
// constraints; a new random serial and a validity of the same length
// starting at now minus the default backdate (truncated to the minute, as
// InitCA). The new certificate is linted like InitCA's.
//
// Errors: key mismatch (2300), not a CA or not self-signed (5200),
// unsupported or too weak key (2200), lint refusal (5300). Intermediates
// are renewed by their parent CA (sign a new CSR), not here.
func RenewCA(ctx context.Context, cert *x509.Certificate, key crypto.Signer, now time.Time) (*Certificate, error) {
	if cert == nil || key == nil {
		return nil, errorf(CodeInvalidPolicy, nil, "ca: renewal needs a CA certificate and its key")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pub := key.Public()
	if !publicKeysEqual(cert.PublicKey, pub) {
		return nil, errorf(CodeKeyMismatch, nil, "the CA key does not match the CA certificate %q", cert.Subject.CommonName)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, errorf(CodeInvalidPolicy, nil, "certificate %q is not a CA certificate", cert.Subject.CommonName)
	}
	if !bytes.Equal(cert.RawIssuer, cert.RawSubject) || cert.CheckSignatureFrom(cert) != nil {
		return nil, errorf(CodeInvalidPolicy, nil, "certificate %q is not self-signed: renew an intermediate by signing a new request with its parent CA", cert.Subject.CommonName)
	}
	alg, err := DefaultSignatureAlgorithm(pub)
	if err != nil {
		return nil, err
	}
	switch cert.SignatureAlgorithm {
	case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		alg = cert.SignatureAlgorithm // keep an explicit PSS choice
	}
	serial, err := newSerial(rand.Reader)
	if err != nil {
		return nil, err
	}
	nb := notBefore(now, profile.DefaultBackdate)
	t := &x509.Certificate{
		SerialNumber:       serial,
		RawSubject:         cert.RawSubject,
		Subject:            cert.Subject,
		NotBefore:          nb,
		NotAfter:           nb.Add(cert.NotAfter.Sub(cert.NotBefore)),
		SignatureAlgorithm: alg,

		KeyUsage:                    cert.KeyUsage,
		ExtKeyUsage:                 cert.ExtKeyUsage,
		UnknownExtKeyUsage:          cert.UnknownExtKeyUsage,
		BasicConstraintsValid:       cert.BasicConstraintsValid,
		IsCA:                        cert.IsCA,
		MaxPathLen:                  cert.MaxPathLen,
		MaxPathLenZero:              cert.MaxPathLenZero,
		SubjectKeyId:                cert.SubjectKeyId,
		AuthorityKeyId:              cert.AuthorityKeyId,
		OCSPServer:                  cert.OCSPServer,
		IssuingCertificateURL:       cert.IssuingCertificateURL,
		DNSNames:                    cert.DNSNames,
		EmailAddresses:              cert.EmailAddresses,
		IPAddresses:                 cert.IPAddresses,
		URIs:                        cert.URIs,
		PermittedDNSDomainsCritical: cert.PermittedDNSDomainsCritical,
		PermittedDNSDomains:         cert.PermittedDNSDomains,
		ExcludedDNSDomains:          cert.ExcludedDNSDomains,
		PermittedIPRanges:           cert.PermittedIPRanges,
		ExcludedIPRanges:            cert.ExcludedIPRanges,
		PermittedEmailAddresses:     cert.PermittedEmailAddresses,
		ExcludedEmailAddresses:      cert.ExcludedEmailAddresses,
		PermittedURIDomains:         cert.PermittedURIDomains,
		ExcludedURIDomains:          cert.ExcludedURIDomains,
		CRLDistributionPoints:       cert.CRLDistributionPoints,
		PolicyIdentifiers:           cert.PolicyIdentifiers,
		Policies:                    cert.Policies,
		// The original extensions verbatim and in order: they override
		// the ones the fields above would produce.
		ExtraExtensions: cert.Extensions,
	}
	return selfSigned(t, signerFor(ctx, key), profile.Lint{}, rand.Reader)
}
