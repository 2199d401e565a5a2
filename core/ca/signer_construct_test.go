package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
)

// TestBuildTBSMatchesCreateCertificate: the TBS construct signs is byte
// for byte the one x509.CreateCertificate writes for the same template,
// parent and key, for every CA key type and a leaf with every kind of
// name and extension, and for a self-signed root.
func TestBuildTBSMatchesCreateCertificate(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Truncate(time.Second)
	u, _ := url.Parse("spiffe://example.org/a")
	for _, key := range []crypto.Signer{p256, p384, p521, ed, rsa2048} {
		alg, err := DefaultSignatureAlgorithm(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root", Organization: []string{"pkid"}},
			NotBefore: now, NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SignatureAlgorithm: alg}
		rootDER, err := x509.CreateCertificate(rand.Reader, root, root, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		rootCert, _ := x509.ParseCertificate(rootDER)
		// The self-signed root, re-encoded.
		tbs, _, err := buildTBS(root, root, key.Public(), alg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tbs, rootCert.RawTBSCertificate) {
			t.Errorf("%s root: TBS differs from CreateCertificate's", alg)
		}
		leaf := &x509.Certificate{SerialNumber: new(big.Int).Lsh(big.NewInt(0x7f1234), 130), SignatureAlgorithm: alg,
			Subject:   pkix.Name{CommonName: "www.example.com", Country: []string{"DE"}, Organization: []string{"pkid"}},
			NotBefore: now, NotAfter: now.Add(90 * 24 * time.Hour), DNSNames: []string{"www.example.com", "example.com"},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}, EmailAddresses: []string{"a@example.com"}, URIs: []*url.URL{u},
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			BasicConstraintsValid: true, SubjectKeyId: []byte{1, 2, 3}, OCSPServer: []string{"http://ocsp.example.com"},
			IssuingCertificateURL: []string{"http://ca.example.com/ca.crt"}, CRLDistributionPoints: []string{"http://ca.example.com/ca.crl"},
			ExtraExtensions: []pkix.Extension{{Id: OIDCTPoison, Critical: true, Value: []byte{5, 0}}}}
		want, err := x509.CreateCertificate(rand.Reader, leaf, rootCert, &leafKey.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		wantCert, _ := x509.ParseCertificate(want)
		tbs, algID, err := buildTBS(leaf, rootCert, &leafKey.PublicKey, alg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tbs, wantCert.RawTBSCertificate) {
			t.Errorf("%s leaf: TBS differs from CreateCertificate's", alg)
		}
		// Assembled with CreateCertificate's signature, it is its certificate.
		got, err := assemble(tbs, algID, wantCert.Signature)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s leaf: assembled certificate differs from CreateCertificate's (%v)", alg, err)
		}
		// The lint copy parses, carries the same TBS and verifies under no key.
		cp, _ := assemble(tbs, algID, placeholderSignature(key.Public()))
		cpCert, err := x509.ParseCertificate(cp)
		if err != nil {
			t.Fatalf("%s lint copy: %v", alg, err)
		}
		if !bytes.Equal(cpCert.RawTBSCertificate, tbs) || rootCert.CheckSignature(alg, tbs, cpCert.Signature) == nil {
			t.Errorf("%s lint copy: wrong TBS or a signature that verifies", alg)
		}
		if len(cp) < len(want) {
			t.Errorf("%s lint copy is %d bytes, the certificate %d: the size check would be low", alg, len(cp), len(want))
		}
	}
}

// badSigner signs with another key: a faulty keystore or HSM.
type badSigner struct {
	crypto.Signer // the real key: Public matches the CA certificate
	other         crypto.Signer
	calls         int
}

func (b *badSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	b.calls++
	return b.other.Sign(r, digest, opts)
}

// TestFaultySignerCaught: a signer whose signatures do not verify under
// the CA key yields an error and no certificate.
func TestFaultySignerCaught(t *testing.T) {
	rootReq := &csr.Request{CN: "root", KeyRequest: &csr.KeyRequest{Algo: "ecdsa", Size: 256}}
	key, err := rootReq.KeyRequest.Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := InitCA(context.Background(), InitCARequest{Request: rootReq, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bad := &badSigner{Signer: key, other: other}
	profiles, err := profile.ParseCFSSL([]byte(`{"signing":{"default":{"usages":["digital signature","server auth"],"expiry":"24h"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := NewIssuer(IssuerConfig{Certificate: root.Cert, Signer: bad, Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	leafReq := &csr.Request{CN: "www.example.com", Hosts: []string{"www.example.com"}}
	leafKey, _ := leafReq.KeyRequest.Generate()
	csrPEM, err := csr.Generate(leafReq, leafKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Sign(context.Background(), SignRequest{CSR: csrPEM})
	if err == nil || c != nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("got %v, %v; want a signature error and no certificate", c, err)
	}
	if bad.calls != 1 {
		t.Fatalf("the CA key signed %d times, want once", bad.calls)
	}
	// The same issuer with the right key signs, once per certificate.
	good := &badSigner{Signer: key, other: key}
	iss.cfg.Signer = good
	if _, err := iss.Sign(context.Background(), SignRequest{CSR: csrPEM}); err != nil {
		t.Fatal(err)
	}
	if good.calls != 1 {
		t.Fatalf("the CA key signed %d times for one certificate, want once", good.calls)
	}
}

// TestConstructAlgorithms issues end to end under an Ed25519 CA (one
// construction) and an RSA CA whose profile asks for RSA-PSS (the
// two-construction path), and checks each certificate's signature.
func TestConstructAlgorithms(t *testing.T) {
	for _, tc := range []struct {
		algo string
		size int
		sig  x509.SignatureAlgorithm
	}{{"ed25519", 0, 0}, {"rsa", 2048, x509.SHA256WithRSAPSS}} {
		rootReq := &csr.Request{CN: "root " + tc.algo, KeyRequest: &csr.KeyRequest{Algo: tc.algo, Size: tc.size}}
		key, err := rootReq.KeyRequest.Generate()
		if err != nil {
			t.Fatal(err)
		}
		root, _, err := InitCA(context.Background(), InitCARequest{Request: rootReq, Signer: key})
		if err != nil {
			t.Fatal(err)
		}
		profiles, err := profile.ParseCFSSL([]byte(`{"signing":{"default":{"usages":["digital signature","server auth"],"expiry":"24h"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		profiles.Default.SignatureAlgorithm = tc.sig
		iss, err := NewIssuer(IssuerConfig{Certificate: root.Cert, Signer: key, Profiles: profiles})
		if err != nil {
			t.Fatal(err)
		}
		leafReq := &csr.Request{CN: "www.example.com", Hosts: []string{"www.example.com"}}
		leafKey, _ := leafReq.KeyRequest.Generate()
		csrPEM, err := csr.Generate(leafReq, leafKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := iss.Sign(context.Background(), SignRequest{CSR: csrPEM})
		if err != nil {
			t.Fatalf("%s: %v", tc.algo, err)
		}
		want := tc.sig
		if want == 0 {
			want = x509.PureEd25519
		}
		if c.Cert.SignatureAlgorithm != want {
			t.Errorf("%s: signature algorithm %s, want %s", tc.algo, c.Cert.SignatureAlgorithm, want)
		}
		if err := c.Cert.CheckSignatureFrom(root.Cert); err != nil {
			t.Errorf("%s: %v", tc.algo, err)
		}
	}
}
