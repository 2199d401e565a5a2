package bundle

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"
)

// nameCheckBudget caps names × name constraints over a chain: Go's
// verifier compares every name with every constraint, and a hostile pair
// (thousands of each) costs seconds per chain.
const nameCheckBudget = 1 << 18

// errBudget is the name constraint budget's error.
var errBudget = errors.New("over the bundler's name constraint budget")

var (
	oidSAN             = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidNameConstraints = asn1.ObjectIdentifier{2, 5, 29, 30}
)

// extraChecks are the rules the bundler adds to Go's verifier
// (docs/bundler.md); nil when chain passes them. The name constraint
// budget always applies; the rest form the TLS server profile, applied
// when the request asks for serverAuth: what current TLS clients enforce
// and Go's verifier does not.
func extraChecks(chain []*x509.Certificate, req Request, now time.Time) error {
	if err := constraintBudget(chain); err != nil {
		return err
	}
	if slices.Contains(req.KeyUsages, x509.ExtKeyUsageServerAuth) {
		return serverProfile(chain)
	}
	return nil
}

func constraintBudget(chain []*x509.Certificate) error {
	leaf := chain[0]
	names := len(leaf.DNSNames) + len(leaf.IPAddresses) + len(leaf.EmailAddresses) + len(leaf.URIs) + len(leaf.Subject.Names)
	constraints := 0
	for _, c := range chain[1:] {
		constraints += len(c.PermittedDNSDomains) + len(c.ExcludedDNSDomains) +
			len(c.PermittedIPRanges) + len(c.ExcludedIPRanges) +
			len(c.PermittedEmailAddresses) + len(c.ExcludedEmailAddresses) +
			len(c.PermittedURIDomains) + len(c.ExcludedURIDomains)
	}
	if names*constraints > nameCheckBudget {
		return fmt.Errorf("x509: %d names against %d name constraints: %w", names, constraints, errBudget)
	}
	return nil
}

func serverProfile(chain []*x509.Certificate) error {
	leaf := chain[0]
	if leaf.BasicConstraintsValid && leaf.IsCA {
		return errors.New("x509: a CA certificate is not a TLS server certificate")
	}
	if leaf.KeyUsage&x509.KeyUsageCertSign != 0 {
		return errors.New("x509: a TLS server certificate must not have the keyCertSign key usage")
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		return errors.New("x509: the leaf does not name the serverAuth extended key usage")
	}
	if hasExtension(leaf, oidNameConstraints) {
		return errors.New("x509: name constraints in an end-entity certificate")
	}
	if len(leaf.RawSubject) <= 2 { // an empty SEQUENCE: the SAN carries the identity
		for _, e := range leaf.Extensions {
			if e.Id.Equal(oidSAN) && !e.Critical {
				return errors.New("x509: a certificate with an empty subject needs a critical subjectAltName")
			}
		}
	}
	for _, n := range leaf.DNSNames {
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			// ICANN suffixes only, as browsers: a private-section entry
			// (s3.amazonaws.com) is a company's own zone.
			suffix, icann := publicsuffix.PublicSuffix(strings.ToLower(rest))
			if icann && strings.EqualFold(suffix, rest) {
				return fmt.Errorf("x509: wildcard name %q covers a public suffix", n)
			}
		}
	}
	for i, c := range chain {
		// A root's serial is never looked at (Starfield's G2 root has 0).
		if i < len(chain)-1 && (c.SerialNumber == nil || c.SerialNumber.Sign() <= 0 || len(c.SerialNumber.Bytes()) > 20) {
			return fmt.Errorf("x509: certificate %d has a zero, negative or over-long serial number", i+1)
		}
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok {
			if bits := k.N.BitLen(); bits < 2048 || bits%8 != 0 {
				return fmt.Errorf("x509: certificate %d has a %d-bit RSA key (at least 2048, a multiple of 8)", i+1, bits)
			}
		}
		if i > 0 && len(c.RawSubject) <= 2 {
			return fmt.Errorf("x509: CA certificate %d has an empty subject", i+1)
		}
	}
	return nil
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}
