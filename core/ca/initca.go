package ca

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/lint"
	"github.com/pkid/pkid/core/ca/profile"
)

// DefaultCAExpiry is the validity of a new root when csr.json's ca.expiry
// is unset (CFSSL: 5 years).
const DefaultCAExpiry = 43800 * time.Hour

// InitCARequest asks for a self-signed root CA.
type InitCARequest struct {
	Request *csr.Request
	// Signer is the CA key (generated, loaded, or inside a keystore).
	Signer crypto.Signer
	Lint   profile.Lint
	// MaxPathLen caps the CA's pathlen (zero: DefaultMaxPathLen; the
	// pkid block's limits.max_path_len).
	MaxPathLen int
	Now        func() time.Time
	Rand       io.Reader
}

// InitCA creates a self-signed CA certificate and its CSR. Errors: bad
// request or a pathlen above MaxPathLen (5200), unsupported key (2200),
// lint refusal (5300).
func InitCA(ctx context.Context, req InitCARequest) (cert *Certificate, csrPEM []byte, err error) {
	if req.Request == nil || req.Signer == nil {
		return nil, nil, fmt.Errorf("ca: initca needs a request and a key")
	}
	if req.Now == nil {
		req.Now = time.Now
	}
	if req.Rand == nil {
		req.Rand = rand.Reader
	}
	req.Signer = signerFor(ctx, req.Signer)
	pub := req.Signer.Public()
	alg, err := DefaultSignatureAlgorithm(pub)
	if err != nil {
		return nil, nil, err
	}
	if c := req.Request.CA; c != nil {
		if limit := orDefault(req.MaxPathLen, DefaultMaxPathLen); c.PathLength > limit {
			return nil, nil, errorf(CodeInvalidPolicy, nil, "ca.pathlen %d exceeds the limit %d (limits.max_path_len)", c.PathLength, limit)
		}
	}
	csrPEM, err = csr.Generate(req.Request, req.Signer)
	if err != nil {
		return nil, nil, errorf(CodeInvalidPolicy, err, "building the CA's certificate request")
	}
	cr, err := csr.ParseCSR(csrPEM)
	if err != nil {
		return nil, nil, err
	}
	expiry, backdate := DefaultCAExpiry, profile.DefaultBackdate
	pathLen, pathLenZero := -1, false
	if c := req.Request.CA; c != nil {
		e, err := c.ExpiryDuration()
		if err != nil {
			return nil, nil, errorf(CodeInvalidPolicy, err, "csr.json ca")
		}
		b, err := c.BackdateDuration()
		if err != nil {
			return nil, nil, errorf(CodeInvalidPolicy, err, "csr.json ca")
		}
		if e > 0 {
			expiry = e
		}
		if b > 0 {
			backdate = b
		}
		pathLen, pathLenZero = c.MaxPathLen()
	}
	serial, err := newSerial(req.Rand)
	if err != nil {
		return nil, nil, err
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, nil, err
	}
	nb := notBefore(req.Now(), backdate)
	// The root keeps the CSR's subject attributes, IP addresses and
	// delegation usage; a CA certificate carries no DNS, email or URI names.
	t := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               csr.CertificateSubject(cr),
		IPAddresses:           cr.IPAddresses,
		ExtraExtensions:       delegationUsage(cr),
		NotBefore:             nb,
		NotAfter:              nb.Add(expiry),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            pathLen,
		MaxPathLenZero:        pathLenZero,
		SubjectKeyId:          ski,
		SignatureAlgorithm:    alg,
	}
	if req.Request.CRL != "" {
		t.CRLDistributionPoints = []string{req.Request.CRL}
	}
	cert, err = selfSigned(t, req.Signer, req.Lint, req.Rand)
	if err != nil {
		return nil, nil, err
	}
	return cert, csrPEM, nil
}

// selfSigned lints and signs t with its own key.
func selfSigned(t *x509.Certificate, signer crypto.Signer, lcfg profile.Lint, rnd io.Reader) (*Certificate, error) {
	pub := signer.Public()
	l, err := lint.New(lcfg)
	if err != nil {
		return nil, errorf(CodeInvalidPolicy, err, "lint settings")
	}
	warnings, _, err := preIssuanceLint(l, t, t, pub, pub)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rnd, t, t, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("ca: signing: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Certificate{DER: der, Cert: c, Warnings: warnings}, nil
}

// SelfSign makes a self-signed end-entity certificate for req's hosts
// (testing only: nothing vouches for it). Usages: digital signature (plus
// key encipherment for RSA), server and client auth.
func SelfSign(ctx context.Context, req *csr.Request, key crypto.Signer, expiry time.Duration) (*Certificate, []byte, error) {
	pub := key.Public()
	alg, err := DefaultSignatureAlgorithm(pub)
	if err != nil {
		return nil, nil, err
	}
	csrPEM, err := csr.Generate(req, key)
	if err != nil {
		return nil, nil, errorf(CodeInvalidPolicy, err, "building the certificate request")
	}
	cr, err := csr.ParseCSR(csrPEM)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial(nil)
	if err != nil {
		return nil, nil, err
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, nil, err
	}
	ku := x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		ku |= x509.KeyUsageKeyEncipherment
	}
	nb := time.Now().UTC().Truncate(time.Minute).Add(-profile.DefaultBackdate)
	t := &x509.Certificate{
		SerialNumber: serial, Subject: cr.Subject, NotBefore: nb, NotAfter: nb.Add(expiry),
		KeyUsage: ku, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, SubjectKeyId: ski, SignatureAlgorithm: alg,
		// An end-entity certificate needs an AKI even when self-signed.
		AuthorityKeyId: ski,
		DNSNames:       cr.DNSNames, IPAddresses: cr.IPAddresses, EmailAddresses: cr.EmailAddresses, URIs: cr.URIs,
	}
	cert, err := selfSigned(t, key, profile.Lint{}, rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	return cert, csrPEM, nil
}
