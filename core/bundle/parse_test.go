package bundle

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/internal/testtool"
)

func TestParseChain(t *testing.T) {
	p := newCrossPKI(t)
	dir := t.TempDir()
	chainPEM := filepath.Join(dir, "chain.pem")
	writePEM(t, chainPEM, p.leaf.cert, p.inter.cert)
	pemBytes, _ := os.ReadFile(chainPEM)

	openssl := testtool.Require(t, "openssl")
	run := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
		return out
	}
	// PKCS#7 certs-only, as openssl writes it.
	p7 := filepath.Join(dir, "chain.p7b")
	run("crl2pkcs7", "-nocrl", "-certfile", chainPEM, "-outform", "DER", "-out", p7)
	p7Bytes, _ := os.ReadFile(p7)
	// PKCS#12 with the legacy algorithms Go's reader knows, inter first.
	keyFile := filepath.Join(dir, "key.pem")
	der, _ := x509.MarshalPKCS8PrivateKey(p.leaf.key)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	p12 := filepath.Join(dir, "leaf.p12")
	run("pkcs12", "-export", "-in", chainPEM, "-inkey", keyFile, "-out", p12, "-passout", "pass:s3cret",
		"-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1")
	p12Bytes, _ := os.ReadFile(p12)

	for _, tc := range []struct {
		name    string
		data    []byte
		pass    string
		n       int
		withKey bool
	}{
		{"pem", append([]byte("junk before\n"), pemBytes...), "", 2, false},
		{"der", p.leaf.cert.Raw, "", 1, false},
		{"pkcs7", p7Bytes, "", 2, false},
		{"pkcs12", p12Bytes, "s3cret", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certs, key, err := ParseChain(tc.data, tc.pass)
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != tc.n || !certs[0].Equal(p.leaf.cert) {
				t.Fatalf("got %d certificates, first %v", len(certs), certs[0].Subject)
			}
			if (key != nil) != tc.withKey {
				t.Errorf("key = %T", key)
			}
		})
	}

	bad := []struct {
		name string
		data []byte
		code int
	}{
		{"empty", nil, CodeCertDecode},
		{"garbage", []byte("hello"), CodeCertDecode},
		{"pem without certificate", []byte("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n"), CodeCertDecode},
		{"pem broken certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), CodeCertParse},
		{"pkcs12 without password", p12Bytes, CodeCertDecode},
		{"too many", bytes.Repeat(pemBytes, MaxChainCerts), CodeBadRequest},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseChain(tc.data, "")
			if CodeOf(err) != tc.code || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v (code %d), want code %d", err, CodeOf(err), tc.code)
			}
		})
	}

	if _, err := ParseKey([]byte("nope")); CodeOf(err) != CodeKeyParse {
		t.Errorf("ParseKey garbage: %v", err)
	}
	if k, err := ParseKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil || k == nil {
		t.Errorf("ParseKey: %v", err)
	}
}

// FuzzParseChain: whatever the bytes, ParseChain returns certificates or
// a coded error, never panics, and stays within MaxChainCerts.
func FuzzParseChain(f *testing.F) {
	p := newCrossPKI(f)
	var buf bytes.Buffer
	for _, c := range []*x509.Certificate{p.leaf.cert, p.inter.cert} {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	f.Add(buf.Bytes())
	f.Add(p.leaf.cert.Raw)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, _, err := ParseChain(data, "")
		if err != nil {
			if CodeOf(err) == 0 {
				t.Fatalf("uncoded error: %v", err)
			}
			return
		}
		if len(certs) == 0 || len(certs) > MaxChainCerts {
			t.Fatalf("%d certificates", len(certs))
		}
	})
}
