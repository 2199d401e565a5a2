package certinfo

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

func TestKeyID(t *testing.T) {
	if got := KeyID([]byte{0x0a, 0xbc, 0xff}); got != "0A:BC:FF" {
		t.Errorf("KeyID = %q", got)
	}
	if got := KeyID(nil); got != "" {
		t.Errorf("KeyID(nil) = %q", got)
	}
}

func TestSignatureString(t *testing.T) {
	for alg, want := range map[x509.SignatureAlgorithm]string{
		x509.SHA256WithRSA: "SHA256WithRSA", x509.ECDSAWithSHA384: "ECDSAWithSHA384",
		x509.PureEd25519: "Ed25519", x509.SHA512WithRSAPSS: "SHA512WithRSAPSS",
		x509.UnknownSignatureAlgorithm: "Unknown Signature",
	} {
		if got := SignatureString(alg); got != want {
			t.Errorf("SignatureString(%v) = %q, want %q", alg, got, want)
		}
	}
}

func TestCertificateEmptyNames(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Unix(3600, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	b, err := Marshal(Certificate(c))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"subject": {},`, `"issuer": {},`, `"serial_number": "1",`, `"not_before": "1970-01-01T00:00:00Z",`, `"authority_key_id": "",`} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in\n%s", want, s)
		}
	}
	if strings.Contains(s, `"sans"`) {
		t.Error("sans present without SANs")
	}
}

func TestCSR(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		key  any
		alg  string
		size int
		sig  string
	}{
		{rsaKey, "RSA", 2048, "SHA256WithRSA"},
		{ecKey, "ECDSA", 384, "ECDSAWithSHA384"},
		{edKey, "Ed25519", 256, "Ed25519"},
	} {
		tpl := &x509.CertificateRequest{
			Subject:     pkix.Name{CommonName: "x", Organization: []string{"a", "b"}},
			DNSNames:    []string{"x.example"},
			IPAddresses: []net.IP{net.ParseIP("192.0.2.1")},
			ExtraExtensions: []pkix.Extension{
				{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}},
			},
		}
		if tc.alg == "ECDSA" {
			tpl.SignatureAlgorithm = x509.ECDSAWithSHA384
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, tpl, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := x509.ParseCertificateRequest(der)
		got := CSR(r)
		if got.KeyAlgorithm != tc.alg || got.KeySize != tc.size || got.SigAlg != tc.sig ||
			got.Subject.Organization != "a,b" || strings.Join(got.SANs, " ") != "x.example 192.0.2.1" ||
			len(got.Extensions) != 2 || got.Extensions[0].Name != "subjectAltName" ||
			got.Extensions[1].ID != "1.2.3" || !got.Extensions[1].Critical || got.Extensions[1].Name != "" {
			t.Errorf("%s: %+v", tc.alg, got)
		}
	}
}
