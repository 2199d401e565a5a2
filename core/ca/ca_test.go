package ca_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/lint"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
)

const signingConfig = `{"signing": {
  "default": {"expiry": "8760h", "usages": ["signing", "key encipherment", "server auth", "client auth"]},
  "profiles": {
    "intermediate": {"expiry": "26280h", "usages": ["cert sign", "crl sign"],
                     "ca_constraint": {"is_ca": true, "max_path_len": 0, "max_path_len_zero": true}},
    "server": {"expiry": "2160h", "usages": ["signing", "key encipherment", "server auth"]},
    "client": {"expiry": "2160h", "usages": ["signing", "client auth"]}
  }}}`

func requireOpenSSL(t *testing.T) string {
	t.Helper()
	return testtool.Require(t, "openssl")
}

func profileConfig() (*profile.Config, error) { return profile.ParseCFSSL([]byte(signingConfig)) }

func mustProfiles(t *testing.T) *profile.Config {
	t.Helper()
	c, err := profileConfig()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func keyReq(algo string, size int) *csr.KeyRequest {
	return &csr.KeyRequest{Algo: algo, Size: size}
}

func newCSR(t *testing.T, r *csr.Request) ([]byte, crypto.Signer) {
	t.Helper()
	key, err := r.KeyRequest.Generate()
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := csr.Generate(r, key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBytes, key
}

func writePEM(t *testing.T, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// memStore is a minimal certstore for record-before-return checks.
type memStore struct {
	sdk.CertStore
	fail error
	recs []*sdk.CertRecord
}

func (m *memStore) Put(_ context.Context, r *sdk.CertRecord) error {
	if m.fail != nil {
		return m.fail
	}
	m.recs = append(m.recs, r)
	return nil
}

// Round trip per key type: root → intermediate (path length 0) → leaf via
// Sign, and the chain verifies with openssl; every certificate lints clean
// (no error/fatal) with the default sources.
func TestRoundTrip(t *testing.T) {
	openssl := requireOpenSSL(t)
	linter, err := lint.New(profile.Lint{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		kr   *csr.KeyRequest
	}{
		{"rsa", keyReq("rsa", 2048)},
		{"ecdsa", keyReq("ecdsa", 256)},
		{"ed25519", keyReq("ed25519", 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			rootReq := &csr.Request{CN: "pkid test root " + tc.name, Names: []csr.Name{{C: "US", O: "pkid"}}, KeyRequest: tc.kr}
			rootKey, err := rootReq.KeyRequest.Generate()
			if err != nil {
				t.Fatal(err)
			}
			root, _, err := ca.InitCA(ctx, ca.InitCARequest{Request: rootReq, Signer: rootKey})
			if err != nil {
				t.Fatalf("initca: %v", err)
			}
			rootIss, err := ca.NewIssuer(ca.IssuerConfig{Label: "root", Certificate: root.Cert, Signer: rootKey, Profiles: mustProfiles(t)})
			if err != nil {
				t.Fatal(err)
			}
			interCSR, interKey := newCSR(t, &csr.Request{CN: "pkid test intermediate " + tc.name, Names: []csr.Name{{C: "US", O: "pkid"}}, KeyRequest: tc.kr})
			inter, err := rootIss.Sign(ctx, ca.SignRequest{CSR: interCSR, Profile: "intermediate"})
			if err != nil {
				t.Fatalf("sign intermediate: %v", err)
			}
			if !inter.Cert.IsCA || inter.Cert.MaxPathLen != 0 || !inter.Cert.MaxPathLenZero {
				t.Errorf("intermediate: IsCA %v MaxPathLen %d zero %v", inter.Cert.IsCA, inter.Cert.MaxPathLen, inter.Cert.MaxPathLenZero)
			}
			store := &memStore{}
			interIss, err := ca.NewIssuer(ca.IssuerConfig{Label: "issuing", Certificate: inter.Cert, Chain: []*x509.Certificate{root.Cert}, Signer: interKey, Profiles: mustProfiles(t), Store: store})
			if err != nil {
				t.Fatal(err)
			}
			leafCSR, _ := newCSR(t, &csr.Request{CN: "www.example.com", Hosts: []string{"www.example.com", "10.0.0.1"}, KeyRequest: tc.kr})
			leaf, err := interIss.Sign(ctx, ca.SignRequest{CSR: leafCSR, Profile: "server"})
			if err != nil {
				t.Fatalf("sign leaf: %v", err)
			}
			if len(store.recs) != 1 || store.recs[0].Serial != leaf.Cert.SerialNumber.String() {
				t.Errorf("leaf not recorded before return: %+v", store.recs)
			}
			if leaf.Cert.KeyUsage&x509.KeyUsageKeyEncipherment != 0 && tc.name != "rsa" {
				t.Errorf("keyEncipherment on a %s key", tc.name)
			}
			if n := leaf.Cert.SerialNumber; n.Sign() <= 0 || n.BitLen() > 159 || n.BitLen() < 120 {
				t.Errorf("serial %v: want positive, ≤ 20 bytes, from 20 random bytes", n)
			}

			rootF := writePEM(t, dir, "root.pem", root.Cert)
			interF := writePEM(t, dir, "inter.pem", inter.Cert)
			leafF := writePEM(t, dir, "leaf.pem", leaf.Cert)
			out, err := exec.Command(openssl, "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", rootF, "-untrusted", interF, leafF).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "OK") {
				t.Fatalf("openssl verify: %v\n%s", err, out)
			}
			for _, c := range []*ca.Certificate{root, inter, leaf} {
				rep, err := linter.Lint(c.DER)
				if err != nil {
					t.Fatal(err)
				}
				if err := rep.Err(); err != nil {
					t.Errorf("%s: %v", c.Cert.Subject.CommonName, err)
				}
				for _, w := range rep.Warnings() {
					t.Logf("%s: lint warning: %s", c.Cert.Subject.CommonName, w)
				}
			}
			// A leaf can't be issued beneath the intermediate's path length.
			subCSR, _ := newCSR(t, &csr.Request{CN: "sub-ca", KeyRequest: tc.kr})
			if _, err := interIss.Sign(ctx, ca.SignRequest{CSR: subCSR, Profile: "intermediate"}); err == nil {
				t.Error("a CA beneath a pathlen-0 intermediate was issued")
			}
		})
	}
}

func testIssuer(t *testing.T, mutate func(*profile.Config)) (*ca.Issuer, *x509.Certificate) {
	t.Helper()
	rootReq := &csr.Request{CN: "pkid test root", KeyRequest: keyReq("ecdsa", 256)}
	key, err := rootReq.KeyRequest.Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(context.Background(), ca.InitCARequest{Request: rootReq, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	p := mustProfiles(t)
	if mutate != nil {
		mutate(p)
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "root", Certificate: root.Cert, Signer: key, Profiles: p})
	if err != nil {
		t.Fatal(err)
	}
	return iss, root.Cert
}

// An intermediate carrying name constraints: pkid writes them into the CA
// certificate and refuses to sign beneath it outside the permitted subtree.
func TestNameConstraintsEnforced(t *testing.T) {
	ctx := context.Background()
	rootIss, root := testIssuer(t, func(c *profile.Config) {
		c.Profiles["intermediate"].NameConstraints = &profile.NameConstraints{Critical: true, PermittedDNS: []string{"example.com"}}
	})
	interCSR, interKey := newCSR(t, &csr.Request{CN: "constrained intermediate", KeyRequest: keyReq("ecdsa", 256)})
	inter, err := rootIss.Sign(ctx, ca.SignRequest{CSR: interCSR, Profile: "intermediate"})
	if err != nil {
		t.Fatal(err)
	}
	if got := inter.Cert.PermittedDNSDomains; len(got) != 1 || got[0] != "example.com" || !inter.Cert.PermittedDNSDomainsCritical {
		t.Fatalf("name constraints not written: %v critical=%v", got, inter.Cert.PermittedDNSDomainsCritical)
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Certificate: inter.Cert, Chain: []*x509.Certificate{root}, Signer: interKey, Profiles: mustProfiles(t)})
	if err != nil {
		t.Fatal(err)
	}
	ok, _ := newCSR(t, &csr.Request{CN: "a.example.com", Hosts: []string{"a.example.com"}})
	if _, err := iss.Sign(ctx, ca.SignRequest{CSR: ok, Profile: "server"}); err != nil {
		t.Fatalf("inside the permitted subtree: %v", err)
	}
	bad, _ := newCSR(t, &csr.Request{CN: "evil.org", Hosts: []string{"evil.org"}})
	_, err = iss.Sign(ctx, ca.SignRequest{CSR: bad, Profile: "server"})
	if ca.CodeOf(err) != ca.CodePolicyViolation || !strings.Contains(err.Error(), `"evil.org"`) || !strings.Contains(err.Error(), "example.com") {
		t.Fatalf("want a refusal naming the name and the violated constraint; got %v", err)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	iss, _ := testIssuer(t, nil)
	good, _ := newCSR(t, &csr.Request{CN: "x.example.com", Hosts: []string{"x.example.com"}})
	block, _ := pem.Decode(good)
	tampered := append([]byte(nil), block.Bytes...)
	tampered[len(tampered)-5] ^= 0xff // inside the signature
	longProfiles := func(c *profile.Config) { c.Profiles["server"].Expiry = 50000 * 24 * 3600e9 }
	longIss, _ := testIssuer(t, longProfiles)
	for _, tc := range []struct {
		name string
		iss  *ca.Issuer
		req  ca.SignRequest
		code int
		want string
	}{
		{"malformed CSR", iss, ca.SignRequest{CSR: []byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")}, ca.CodeCSRDecode, "CSR"},
		{"not PEM", iss, ca.SignRequest{CSR: []byte("hello")}, ca.CodeCSRDecode, "CSR"},
		{"bad CSR signature", iss, ca.SignRequest{CSR: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered})}, ca.CodeCSRInvalid, "signature"},
		{"unknown profile", iss, ca.SignRequest{CSR: good, Profile: "nope"}, ca.CodeUnknownProfile, `"nope"`},
		{"expiry beyond the issuer", longIss, ca.SignRequest{CSR: good, Profile: "server"}, ca.CodePolicyViolation, "after its issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.iss.Sign(ctx, tc.req)
			if err == nil {
				t.Fatal("issued")
			}
			if tc.code != 0 && ca.CodeOf(err) != tc.code {
				t.Errorf("code %d, want %d (%v)", ca.CodeOf(err), tc.code, err)
			}
			if ca.CodeOf(err) == 0 {
				t.Errorf("error without a CFSSL code: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("want one line mentioning %q, got %q", tc.want, err)
			}
		})
	}
}

// Record before return: when the store write fails, no certificate.
func TestStoreFailureReturnsNoCertificate(t *testing.T) {
	rootReq := &csr.Request{CN: "root", KeyRequest: keyReq("ecdsa", 256)}
	key, _ := rootReq.KeyRequest.Generate()
	root, _, err := ca.InitCA(context.Background(), ca.InitCARequest{Request: rootReq, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{fail: sdk.ErrUnavailable}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Certificate: root.Cert, Signer: key, Profiles: mustProfiles(t), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newCSR(t, &csr.Request{CN: "a.example.com", Hosts: []string{"a.example.com"}})
	cert, err := iss.Sign(context.Background(), ca.SignRequest{CSR: c, Profile: "server"})
	if cert != nil || !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "not returned") {
		t.Fatalf("cert=%v err=%v; want no certificate and a store error", cert != nil, err)
	}
}
