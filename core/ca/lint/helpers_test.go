package lint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"sync"
	"testing"
	"time"
)

// testKeys caches generated subject/issuer keys across tests.
var testKeys = struct {
	sync.Mutex
	m map[string]crypto.Signer
}{m: map[string]crypto.Signer{}}

// testKey returns a cached key: "p256", "p384", "rsa2048", "rsa3072",
// "ed25519".
func testKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	testKeys.Lock()
	defer testKeys.Unlock()
	if k, ok := testKeys.m[kind]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa3072":
		k, err = rsa.GenerateKey(rand.Reader, 3072)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	testKeys.m[kind] = k
	return k
}

// ski is a 20-byte key identifier for pub (RFC 7093 method 1 style).
func ski(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	var spki struct {
		Algo      pkix.AlgorithmIdentifier
		BitString asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(spki.BitString.Bytes)
	return h[:20]
}

// serial20 is a positive serial encoded in exactly 20 octets.
func serial20(t testing.TB) *big.Int {
	t.Helper()
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[0] = b[0]&0x7f | 0x40
	return new(big.Int).SetBytes(b)
}

// testCA is a self-signed root made with its real key.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// newRoot makes a root CA on key kind.
func newRoot(t testing.TB, kind string) testCA {
	t.Helper()
	key := testKey(t, kind)
	tmpl := caTemplate(t, "pkid test root "+kind, key.Public(), -1)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{cert: c, key: key}
}

// caTemplate is a CA template: keyCertSign|cRLSign, CA:TRUE (critical, as
// Go always marks it), pathlen when >= 0, SKI, 10 years.
func caTemplate(t testing.TB, cn string, pub crypto.PublicKey, pathLen int) *x509.Certificate {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial20(t),
		Subject:               pkix.Name{Country: []string{"DE"}, Organization: []string{"pkid"}, CommonName: cn},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            pathLen,
		MaxPathLenZero:        pathLen == 0,
		SubjectKeyId:          ski(t, pub),
	}
	return tmpl
}

// leafTemplate is a good TLS server leaf: serverAuth, DNS SAN, 20-byte
// serial, SKI, 90 days, digitalSignature (plus keyEncipherment for RSA).
func leafTemplate(t testing.TB, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	ku := x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		ku |= x509.KeyUsageKeyEncipherment
	}
	return &x509.Certificate{
		SerialNumber:          serial20(t),
		Subject:               pkix.Name{Organization: []string{"pkid"}, CommonName: "www.example.com"},
		DNSNames:              []string{"www.example.com", "example.com"},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(90 * 24 * time.Hour),
		KeyUsage:              ku,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		SubjectKeyId:          ski(t, pub),
	}
}

// preIssue makes the lint copy of tmpl issued by ca for pub.
func preIssue(t testing.TB, tmpl *x509.Certificate, ca testCA, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := PreIssuance(tmpl, ca.cert, pub, ca.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// withSerial re-encodes cert DER with the given serial (CreateCertificate
// refuses negative serials). The signature is left as is: zlint does not
// check it.
func withSerial(t testing.TB, der []byte, serial *big.Int) []byte {
	t.Helper()
	var cert struct {
		TBS  asn1.RawValue
		Algo asn1.RawValue
		Sig  asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		t.Fatal(err)
	}
	var fields []asn1.RawValue
	rest := cert.TBS.Bytes
	for len(rest) > 0 {
		var f asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			t.Fatal(err)
		}
		fields = append(fields, f)
	}
	sn, err := asn1.Marshal(serial)
	if err != nil {
		t.Fatal(err)
	}
	fields[1] = asn1.RawValue{FullBytes: sn} // [0] is the explicit version
	var body []byte
	for _, f := range fields {
		body = append(body, f.FullBytes...)
	}
	tbs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		t.Fatal(err)
	}
	cert.TBS = asn1.RawValue{FullBytes: tbs}
	out, err := asn1.Marshal(cert)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustNew builds a Linter or fails the test.
func mustNew(t testing.TB, cfg profileLint) *Linter {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// names lists finding names.
func names(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}
