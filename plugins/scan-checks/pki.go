package scanchecks

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // checking, not making, SHA-1 signatures
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/pkid/pkid/sdk"
)

// Validity limits for ChainValidation's "valid for too long" warning: the
// CA/Browser Forum's 398 days for leaves issued after September 2020, 39
// months before that.
const (
	maxLeafValidity    = 398 * 24 * time.Hour
	maxLegacyValidity  = 39 * 31 * 24 * time.Hour
	cabfValidityCutoff = "2020-09-01T00:00:00Z"
	expiryWarning      = 30 * 24 * time.Hour
)

func pkiFamily() *family {
	return &family{name: "PKI", desc: "Scans for the Public Key Infrastructure", checks: []*check{
		{"ChainExpiration", "Host's chain hasn't expired and won't expire in the next 30 days", chainExpiration},
		{"ChainValidation", "All certificates in host's chain are valid", chainValidation},
		{"MultipleCerts", "Host serves the same leaf certificate on all its addresses", multipleCerts},
		{"ChainOrder", "Each certificate the host sends is issued by the next one", chainOrder},
		{"HostnameMatch", "The leaf certificate is valid for the host name", hostnameMatch},
		{"KeySize", "The leaf key is at least RSA 2048 bits or a 256-bit curve", keySize},
		{"SignatureAlgorithm", "No certificate but a root is signed with MD5 or SHA-1", signatureAlgorithm},
		{"OCSPStapling", "Host staples a good OCSP response", ocspStapling},
		{"Revocation", "The leaf is not revoked according to its OCSP responder or CRL (bounded fetch)", revocation},
	}}
}

// leafChain fetches the chain or reports the failure as a finding; ok is
// false when the finding was made.
func leafChain(ctx context.Context, e *env) ([]*x509.Certificate, bool, error) {
	chain, err := e.c.chain(ctx, e.t, e.addr())
	if err != nil {
		return nil, false, e.fail(err)
	}
	return chain, true, nil
}

func chainExpiration(ctx context.Context, e *env) error {
	chain, ok, err := leafChain(ctx, e)
	if !ok {
		return err
	}
	earliest := chain[0]
	for _, c := range chain {
		if c.NotAfter.Before(earliest.NotAfter) {
			earliest = c
		}
	}
	out := earliest.NotAfter.UTC().Format(time.RFC3339)
	now := e.c.now()
	switch {
	case now.After(earliest.NotAfter):
		return e.emit(sdk.GradeBad, fmt.Sprintf("%s expired at %s", certName(earliest), out), out)
	case now.Add(expiryWarning).After(earliest.NotAfter):
		return e.emit(sdk.GradeWarning, fmt.Sprintf("%s expires within 30 days, at %s", certName(earliest), out), out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return fmt.Sprintf("%q", c.Subject.CommonName)
	}
	if len(c.DNSNames) > 0 {
		return fmt.Sprintf("%q", c.DNSNames[0])
	}
	return fmt.Sprintf("certificate %s", c.SerialNumber)
}

// tooLong reports a validity period beyond the CA/Browser Forum limit of
// its issue date.
func tooLong(c *x509.Certificate) bool {
	cutoff, _ := time.Parse(time.RFC3339, cabfValidityCutoff)
	limit := maxLegacyValidity
	if c.NotBefore.After(cutoff) {
		limit = maxLeafValidity
	}
	return c.NotAfter.Sub(c.NotBefore) > limit
}

// chainValidation follows CFSSL: each certificate but the last against its
// parent. Bad: expired, revoked, a parent that is not a CA, AKI/SKI
// mismatch, a bad signature. Warning: SHA-1, too long a validity, a failed
// revocation check.
func chainValidation(ctx context.Context, e *env) error {
	chain, ok, err := leafChain(ctx, e)
	if !ok {
		return err
	}
	var warnings []string
	now := e.c.now()
	for _, cert := range chain {
		// CFSSL reports an expired certificate as revoked; it is Bad either way.
		if now.After(cert.NotAfter) {
			return e.emit(sdk.GradeBad, fmt.Sprintf("%s expired at %s", certName(cert), cert.NotAfter.UTC().Format(time.RFC3339)), warnings)
		}
	}
	for i := 0; i+1 < len(chain); i++ {
		cert, parent := chain[i], chain[i+1]
		if tooLong(cert) {
			warnings = append(warnings, fmt.Sprintf("Certificate for %s is valid for too long", cert.Subject.CommonName))
		}
		if e.c.revocation {
			st := e.c.revocationStatus(ctx, cert, parent)
			switch {
			case st.revoked:
				return e.emit(sdk.GradeBad, fmt.Sprintf("%s is revoked (%s)", cert.Subject.CommonName, st.source), warnings)
			case st.err != nil:
				warnings = append(warnings, fmt.Sprintf("couldn't check if %s is revoked: %v", cert.Subject.CommonName, st.err))
			}
		}
		if !parent.IsCA {
			return e.emit(sdk.GradeBad, fmt.Sprintf("%s is not a CA", parent.Subject.CommonName), warnings)
		}
		if !bytes.Equal(cert.AuthorityKeyId, parent.SubjectKeyId) {
			return e.emit(sdk.GradeBad, fmt.Sprintf("%s AuthorityKeyId differs from %s SubjectKeyId", cert.Subject.CommonName, parent.Subject.CommonName), warnings)
		}
		if err := checkSignature(cert, parent); err != nil {
			return e.emit(sdk.GradeBad, fmt.Sprintf("%s is not signed by %s: %v", cert.Subject.CommonName, parent.Subject.CommonName, err), warnings)
		}
		switch cert.SignatureAlgorithm {
		case x509.ECDSAWithSHA1:
			warnings = append(warnings, fmt.Sprintf("%s is signed by ECDSAWithSHA1", cert.Subject.CommonName))
		case x509.SHA1WithRSA:
			warnings = append(warnings, fmt.Sprintf("%s is signed by RSAWithSHA1", cert.Subject.CommonName))
		}
	}
	if len(warnings) > 0 {
		return e.emit(sdk.GradeWarning, strings.Join(warnings, "; "), warnings)
	}
	return e.emit(sdk.GradeGood, "", nil)
}

func multipleCerts(ctx context.Context, e *env) error {
	var first *x509.Certificate
	var firstAddr string
	for _, a := range e.addrs {
		chain, err := e.c.chain(ctx, e.t, e.t.dialAddr(a))
		if err != nil {
			return e.fail(err)
		}
		if first == nil {
			first, firstAddr = chain[0], a
			continue
		}
		if !chain[0].Equal(first) {
			return e.emit(sdk.GradeBad, fmt.Sprintf("%s serves %s, %s serves %s", a, certName(chain[0]), firstAddr, certName(first)), nil)
		}
	}
	return e.emit(sdk.GradeGood, "", nil)
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

func chainOrder(ctx context.Context, e *env) error {
	chain, ok, err := leafChain(ctx, e)
	if !ok {
		return err
	}
	out := make([]string, len(chain))
	for i, c := range chain {
		out[i] = c.Subject.String()
	}
	for i := 0; i+1 < len(chain); i++ {
		if checkSignature(chain[i], chain[i+1]) != nil {
			return e.emit(sdk.GradeBad, fmt.Sprintf("certificate %d (%s) is not issued by certificate %d (%s)", i, out[i], i+1, out[i+1]), out)
		}
	}
	if n := len(chain); n > 1 && isSelfSigned(chain[n-1]) {
		return e.emit(sdk.GradeWarning, fmt.Sprintf("the chain includes the root %s, which clients ignore", out[n-1]), out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

func hostnameMatch(ctx context.Context, e *env) error {
	chain, ok, err := leafChain(ctx, e)
	if !ok {
		return err
	}
	names := append([]string(nil), chain[0].DNSNames...)
	for _, ip := range chain[0].IPAddresses {
		names = append(names, ip.String())
	}
	if err := chain[0].VerifyHostname(e.t.name); err != nil {
		return e.emit(sdk.GradeBad, fmt.Sprintf("the leaf is not valid for %s: %v", e.t.name, err), names)
	}
	return e.emit(sdk.GradeGood, "", names)
}

// keyInfo names a public key's type and size.
type keyInfo struct {
	Type string `json:"type"`
	Bits int    `json:"bits"`
}

func publicKeyInfo(c *x509.Certificate) keyInfo {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return keyInfo{"RSA", k.N.BitLen()}
	case *ecdsa.PublicKey:
		return keyInfo{"ECDSA", k.Curve.Params().BitSize}
	case ed25519.PublicKey:
		return keyInfo{"Ed25519", 256}
	}
	return keyInfo{c.PublicKeyAlgorithm.String(), 0}
}

// keySize grades the leaf key: RSA below 2048 bits or curves below 256
// bits are Bad (NIST SP 800-57 retired both after 2013).
func keySize(ctx context.Context, e *env) error {
	chain, ok, err := leafChain(ctx, e)
	if !ok {
		return err
	}
	ki := publicKeyInfo(chain[0])
	switch {
	case ki.Type == "RSA" && ki.Bits < 2048, ki.Type == "ECDSA" && ki.Bits < 256:
		return e.emit(sdk.GradeBad, fmt.Sprintf("%s key of %d bits; at least RSA 2048 or a 256-bit curve is needed", ki.Type, ki.Bits), ki)
	case ki.Bits == 0:
		return e.emit(sdk.GradeWarning, "unrecognised key type "+ki.Type, ki)
	}
	return e.emit(sdk.GradeGood, "", ki)
}

func signatureAlgorithm(ctx context.Context, e *env) error {
	chain, ok, err := leafChain(ctx, e)
	if !ok {
		return err
	}
	out := make([]string, 0, len(chain))
	var weak []string
	for _, c := range chain {
		out = append(out, c.SignatureAlgorithm.String())
		if isSelfSigned(c) && c.IsCA {
			continue // a root's own signature is not checked by clients
		}
		switch c.SignatureAlgorithm {
		case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
			weak = append(weak, fmt.Sprintf("%s is signed with %s", certName(c), c.SignatureAlgorithm))
		}
	}
	if len(weak) > 0 {
		return e.emit(sdk.GradeBad, strings.Join(weak, "; "), out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

// checkSignature checks that parent signed cert. Go's x509 refuses SHA-1
// signatures outright; a scanner must still tell a SHA-1 signature (a
// Warning) from a wrong one (Bad), so those are checked here.
func checkSignature(cert, parent *x509.Certificate) error {
	var hash crypto.Hash
	switch cert.SignatureAlgorithm {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1:
		hash = crypto.SHA1
	default:
		return cert.CheckSignatureFrom(parent)
	}
	if parent.BasicConstraintsValid && !parent.IsCA {
		return fmt.Errorf("parent is not a CA")
	}
	sum := sha1.Sum(cert.RawTBSCertificate)
	switch pub := parent.PublicKey.(type) {
	case *rsa.PublicKey:
		if cert.SignatureAlgorithm == x509.SHA1WithRSA {
			return rsa.VerifyPKCS1v15(pub, hash, sum[:], cert.Signature)
		}
	case *ecdsa.PublicKey:
		if cert.SignatureAlgorithm == x509.ECDSAWithSHA1 {
			if !ecdsa.VerifyASN1(pub, sum[:], cert.Signature) {
				return fmt.Errorf("ECDSA-SHA1 signature does not verify")
			}
			return nil
		}
	}
	return fmt.Errorf("signature algorithm %s does not match the parent's key", cert.SignatureAlgorithm)
}
