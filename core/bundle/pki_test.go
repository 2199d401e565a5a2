package bundle

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// node is a test certificate with its key.
type node struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var serial atomic.Int64

func p256(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// certSpec describes a test certificate; the zero value is a one-year
// P-256 leaf for leaf.example.com.
type certSpec struct {
	cn        string
	org       string
	ca        bool
	key       crypto.Signer // nil: a fresh P-256 key
	notBefore time.Time     // zero: an hour ago
	notAfter  time.Time     // zero: a year from now
	ocsp      []string
	crl       []string
	dns       []string
	sigAlg    x509.SignatureAlgorithm
	eku       []x509.ExtKeyUsage
}

// issue signs spec with parent (nil: self-signed).
func issue(t testing.TB, spec certSpec, parent *node) *node {
	t.Helper()
	key := spec.key
	if key == nil {
		key = p256(t)
	}
	if spec.notBefore.IsZero() {
		spec.notBefore = time.Now().Add(-time.Hour).Truncate(time.Second)
	}
	if spec.notAfter.IsZero() {
		spec.notAfter = time.Now().Add(365 * 24 * time.Hour).Truncate(time.Second)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1000 + serial.Add(1)),
		Subject:               pkix.Name{CommonName: spec.cn},
		NotBefore:             spec.notBefore,
		NotAfter:              spec.notAfter,
		BasicConstraintsValid: true,
		IsCA:                  spec.ca,
		OCSPServer:            spec.ocsp,
		CRLDistributionPoints: spec.crl,
		DNSNames:              spec.dns,
		SignatureAlgorithm:    spec.sigAlg,
		ExtKeyUsage:           spec.eku,
	}
	if spec.org != "" {
		tmpl.Subject.Organization = []string{spec.org}
		tmpl.Subject.Country = []string{"US"}
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	ski := sha1.Sum(spki)
	tmpl.SubjectKeyId = ski[:]
	if spec.ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if tmpl.ExtKeyUsage == nil {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}
	}
	pc, pk := tmpl, key
	if parent != nil {
		pc, pk = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pc, key.Public(), pk)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &node{cert: c, key: key}
}

func spkiSHA1(c *x509.Certificate) string {
	s := sha1.Sum(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(s[:])
}

// crossPKI is two roots where the newer one is cross-signed by the older
// one: leaf <- inter <- newRoot, and inter <- cross(newRoot's name and
// key) <- oldRoot. Platform "everywhere" (weight 10) trusts both roots,
// "legacy" (weight 5) only the old one.
type crossPKI struct {
	oldRoot, newRoot, cross, inter, leaf *node
	platforms                            []sdk.Platform
}

func newCrossPKI(t testing.TB) *crossPKI {
	t.Helper()
	p := &crossPKI{}
	p.oldRoot = issue(t, certSpec{cn: "Old Root", org: "Test Trust", ca: true, notAfter: time.Now().Add(10 * 365 * 24 * time.Hour).Truncate(time.Second)}, nil)
	p.newRoot = issue(t, certSpec{cn: "New Root", org: "Test Trust", ca: true, notAfter: time.Now().Add(9 * 365 * 24 * time.Hour).Truncate(time.Second)}, nil)
	p.cross = issue(t, certSpec{cn: "New Root", org: "Test Trust", ca: true, key: p.newRoot.key, notAfter: time.Now().Add(5 * 365 * 24 * time.Hour).Truncate(time.Second)}, p.oldRoot)
	p.inter = issue(t, certSpec{cn: "Issuing CA", org: "Test Trust", ca: true, notAfter: time.Now().Add(3 * 365 * 24 * time.Hour).Truncate(time.Second)}, p.newRoot)
	p.leaf = issue(t, certSpec{cn: "www.example.com", org: "Example", dns: []string{"www.example.com", "example.com"}}, p.inter)
	p.platforms = []sdk.Platform{
		{Name: "everywhere", Weight: 10, HashAlgo: "SHA2", KeyAlgo: "ECDSA256", Roots: []string{spkiSHA1(p.oldRoot.cert), spkiSHA1(p.newRoot.cert)}},
		{Name: "legacy", Weight: 5, HashAlgo: "SHA2", KeyAlgo: "ECDSA256", Roots: []string{spkiSHA1(p.oldRoot.cert)}},
	}
	return p
}

func (p *crossPKI) pool(t testing.TB, platforms []sdk.Platform) *Pool {
	t.Helper()
	pool, err := NewPool([]sdk.TrustCert{
		{DER: p.oldRoot.cert.Raw, Root: true, Source: "roots.pem"},
		{DER: p.newRoot.cert.Raw, Root: true, Source: "roots.pem"},
		{DER: p.cross.cert.Raw, Source: "int.pem"},
		{DER: p.inter.cert.Raw, Source: "int.pem"},
	}, platforms)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

func mustBundle(t testing.TB, b *Bundler, req Request) *Bundle {
	t.Helper()
	bun, err := b.Bundle(context.Background(), req)
	if err != nil {
		t.Fatalf("Bundle: %v", err)
	}
	return bun
}

func names(chain []*x509.Certificate) []string {
	var out []string
	for _, c := range chain {
		s := c.Subject.CommonName
		if c.Issuer.CommonName != s {
			s += " (by " + c.Issuer.CommonName + ")"
		}
		out = append(out, s)
	}
	return out
}

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}
