package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/aia"
	"github.com/pkid/pkid/core/bundle"
	"github.com/pkid/pkid/core/egress"
	"github.com/pkid/pkid/sdk"
)

// bpki is a small PKI of its own: root, intermediate (served over AIA),
// and leaves for 127.0.0.1 / www.example.com.
type bpki struct {
	root, inter, leaf *x509.Certificate
	interKey, leafKey *ecdsa.PrivateKey
}

func mkCert(t *testing.T, tmpl, parent *x509.Certificate, pub any, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newBPKI(t *testing.T, aiaURL string) *bpki {
	t.Helper()
	now := time.Now()
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ik, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := func(cn string, serial int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour),
			NotAfter: now.Add(90 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	p := &bpki{interKey: ik, leafKey: lk}
	rt := ca("bundle test root", 1)
	p.root = mkCert(t, rt, rt, &rk.PublicKey, rk)
	p.inter = mkCert(t, ca("bundle test intermediate", 2), p.root, &ik.PublicKey, rk)
	lt := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "www.example.com"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(60 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"www.example.com"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	if aiaURL != "" {
		lt.IssuingCertificateURL = []string{aiaURL}
	}
	p.leaf = mkCert(t, lt, p.inter, &lk.PublicKey, ik)
	return p
}

func poolOf(t *testing.T, certs ...sdk.TrustCert) func() *bundle.Pool {
	t.Helper()
	p, err := bundle.NewPool(certs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return func() *bundle.Pool { return p }
}

func keyPEM(t *testing.T, k *ecdsa.PrivateKey) string {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

// bundleResult decodes a bundle object.
func bundleResult(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("bundle result %s: %v", raw, err)
	}
	return m
}

func TestBundleEndpoint(t *testing.T) {
	p := newBPKI(t, "")
	e := newEnv(t, plainConfig, func(o *Options) {
		o.Bundle = &BundleOptions{Pool: poolOf(t,
			sdk.TrustCert{DER: p.root.Raw, Root: true, Source: "test"},
			sdk.TrustCert{DER: p.inter.Raw, Source: "test"})}
	})
	leafPEM := pemOf(p.leaf.Raw)

	r := e.post(t, "bundle", map[string]string{"certificate": leafPEM, "private_key": keyPEM(t, p.leafKey), "flavor": "optimal", "domain": "www.example.com"})
	wantOK(t, r)
	b := bundleResult(t, r.Result)
	if b["crt"] != strings.TrimSpace(leafPEM) || b["root"] != strings.TrimSpace(pemOf(p.root.Raw)) {
		t.Errorf("crt/root = %v / %v", b["crt"], b["root"])
	}
	if want := strings.TrimSpace(leafPEM) + "\n" + strings.TrimSpace(pemOf(p.inter.Raw)); b["bundle"] != want {
		t.Errorf("bundle = %v, want leaf and intermediate (root omitted)", b["bundle"])
	}
	if b["key"] == "" || b["key_type"] != "256-bit ECDSA" {
		t.Errorf("key fields: %v %v", b["key"], b["key_type"])
	}

	// An unknown flavor is ubiquitous, as in CFSSL.
	r = e.post(t, "bundle", map[string]string{"certificate": leafPEM, "flavor": "bogus"})
	wantOK(t, r)

	// The domain with certificate must match the leaf; so must ip.
	r = e.post(t, "bundle", map[string]string{"certificate": leafPEM, "domain": "evil.example"})
	if r.Status != http.StatusBadRequest || r.Success || len(r.Errors) != 1 || r.Errors[0].Code/100 != 12 {
		t.Errorf("mismatched domain: %d %s", r.Status, r.Raw)
	}
	r = e.post(t, "bundle", map[string]string{"certificate": leafPEM, "ip": "10.9.9.9"})
	if r.Status != http.StatusBadRequest || r.Errors[0].Code/100 != 12 {
		t.Errorf("mismatched ip: %d %s", r.Status, r.Raw)
	}
}

func TestBundleEndpointHostile(t *testing.T) {
	p := newBPKI(t, "")
	e := newEnv(t, plainConfig, func(o *Options) {
		o.Bundle = &BundleOptions{Pool: poolOf(t, sdk.TrustCert{DER: p.root.Raw, Root: true, Source: "test"})}
	})
	leafPEM := pemOf(p.leaf.Raw)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var huge strings.Builder
	for range bundle.MaxChainCerts + 1 {
		huge.WriteString(pemOf(p.inter.Raw))
	}
	tests := []struct {
		name   string
		body   any
		status int
		code   int
		want   string
	}{
		{"not JSON", "{", 400, 400, ""},
		{"not a string", `{"certificate":1}`, 400, 400, `field "certificate": want string`},
		{"no keyword set", map[string]string{"flavor": "optimal"}, 400, 400, "no valid parameter sets found"},
		{"garbage PEM", map[string]string{"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, 400, bundle.CodeCertParse, ""},
		{"garbage bytes", map[string]string{"certificate": "hello"}, 400, bundle.CodeCertDecode, ""},
		{"oversized chain", map[string]string{"certificate": leafPEM + huge.String()}, 400, bundle.CodeBadRequest, "more than"},
		{"key mismatch", map[string]string{"certificate": leafPEM, "private_key": keyPEM(t, other)}, 400, bundle.CodeKeyMismatch, ""},
		{"garbage key", map[string]string{"certificate": leafPEM, "private_key": "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"}, 400, 2003, ""},
		{"bad ip", map[string]string{"certificate": leafPEM, "ip": "300.1.1.1"}, 400, 400, `ip "300.1.1.1" is not an IP address`},
		{"unknown authority", map[string]string{"certificate": leafPEM}, 400, bundle.CodeUnknownAuthority, ""},
		{"domain without dialer", map[string]string{"domain": "www.example.com"}, 403, 403, "does not dial out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(t, "bundle", tt.body)
			wantError(t, r, tt.status, tt.code, tt.want)
		})
	}
	if r := e.do(t, http.MethodGet, "bundle", nil); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET bundle: %d", r.Status)
	}
}

// TestBundleEgress: the daemon's dials follow its allowlist. A domain
// outside it, and an AIA fetch outside it, are refused with a 403 naming
// the host; inside it the chain is fetched and bundled.
func TestBundleEgress(t *testing.T) {
	// The intermediate is served for AIA on 127.0.0.1; the leaf points at
	// it through 127.0.0.2 or 127.0.0.1 depending on the case.
	var interDER []byte
	aiaSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(interDER) }))
	t.Cleanup(aiaSrv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(aiaSrv.URL, "http://"))

	denied := newBPKI(t, "http://127.0.0.2:"+port+"/int.crt")
	p := newBPKI(t, aiaSrv.URL+"/int.crt")
	interDER = p.inter.Raw

	// A TLS server presenting p's leaf and intermediate.
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{p.leaf.Raw, p.inter.Raw}, PrivateKey: p.leafKey}}}
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	tlsAddr := strings.TrimPrefix(tlsSrv.URL, "https://")

	policy, err := egress.New([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	roots := []sdk.TrustCert{{DER: p.root.Raw, Root: true, Source: "test"}, {DER: denied.root.Raw, Root: true, Source: "test"}}
	e := newEnv(t, plainConfig, func(o *Options) {
		o.Bundle = &BundleOptions{Pool: poolOf(t, roots...), Fetcher: &aia.Fetcher{Policy: policy, Timeout: 2 * time.Second}, DialTLS: policy.PeerCertificates}
	})

	// Allowed: the chain comes from the TLS server; the name is checked.
	r := e.post(t, "bundle", map[string]string{"domain": tlsAddr})
	wantOK(t, r)
	if b := bundleResult(t, r.Result); b["crt"] != strings.TrimSpace(pemOf(p.leaf.Raw)) {
		t.Errorf("domain bundle crt = %v", b["crt"])
	}
	// Allowed: the missing intermediate comes over AIA.
	r = e.post(t, "bundle", map[string]string{"certificate": pemOf(p.leaf.Raw)})
	wantOK(t, r)

	// Refused: a domain outside the allowlist (no connection is made).
	r = e.post(t, "bundle", map[string]string{"domain": "127.0.0.3:" + port})
	wantError(t, r, 403, 403, "127.0.0.3 is not on the allowlist")
	r = e.post(t, "bundle", map[string]string{"domain": "www.example.com", "ip": "127.0.0.4"})
	wantError(t, r, 403, 403, "127.0.0.4 is not on the allowlist")
	// Refused: an AIA URL outside the allowlist.
	r = e.post(t, "bundle", map[string]string{"certificate": pemOf(denied.leaf.Raw)})
	wantError(t, r, 403, 403, "AIA fetch refused")
	if !strings.Contains(r.Errors[0].Message, "127.0.0.2 is not on the allowlist") {
		t.Errorf("refusal does not name the host: %s", r.Raw)
	}

	// The zero policy (the daemon's default) dials nothing.
	var zero egress.Policy
	e = newEnv(t, plainConfig, func(o *Options) {
		o.Bundle = &BundleOptions{Pool: poolOf(t, roots...), Fetcher: &aia.Fetcher{Policy: &zero}, DialTLS: zero.PeerCertificates}
	})
	wantError(t, e.post(t, "bundle", map[string]string{"domain": tlsAddr}), 403, 403, "127.0.0.1 is not on the allowlist")
	wantError(t, e.post(t, "bundle", map[string]string{"certificate": pemOf(p.leaf.Raw)}), 403, 403, "127.0.0.1 is not on the allowlist")
}

func TestSignBundle(t *testing.T) {
	var e *testEnv
	e = newEnv(t, plainConfig, func(o *Options) {
		o.Bundle = &BundleOptions{Pool: func() *bundle.Pool {
			p, err := bundle.NewPool([]sdk.TrustCert{{DER: o.CAs.CAs["primary"].Certificate().Raw, Root: true, Source: "ca"}}, nil)
			if err != nil {
				t.Error(err)
			}
			return p
		}}
	})
	csrPEM := string(makeCSR(t, "www.example.com", "www.example.com"))
	r := e.post(t, "sign", map[string]any{"certificate_request": csrPEM, "bundle": true})
	wantOK(t, r)
	var res struct {
		Certificate string          `json:"certificate"`
		Bundle      json.RawMessage `json:"bundle"`
	}
	if err := json.Unmarshal(r.Result, &res); err != nil || res.Bundle == nil {
		t.Fatalf("sign result %s: %v", r.Result, err)
	}
	b := bundleResult(t, res.Bundle)
	if b["crt"] != strings.TrimSpace(res.Certificate) || b["root"] != strings.TrimSpace(pemOf(e.cas["primary"].Raw)) {
		t.Errorf("sign's bundle: crt %v root %v", b["crt"], b["root"])
	}
	if len(r.Messages) != 0 {
		t.Errorf("messages %v", r.Messages)
	}

	// The secondary CA is not trusted: the certificate comes back with a
	// message carrying the bundler's code instead of a bundle.
	r = e.post(t, "sign", map[string]any{"certificate_request": csrPEM, "bundle": true, "label": "secondary"})
	wantOK(t, r)
	if strings.Contains(string(r.Result), `"bundle"`) || len(r.Messages) != 1 || r.Messages[0].Code != bundle.CodeUnknownAuthority {
		t.Errorf("untrusted CA: %s", r.Raw)
	}

	r = e.post(t, "newcert", map[string]any{"request": map[string]any{"CN": "x.example.com", "hosts": []string{"x.example.com"}}, "bundle": true})
	wantOK(t, r)
	if !strings.Contains(string(r.Result), `"bundle":{`) {
		t.Errorf("newcert with bundle: %s", r.Raw)
	}
}

func TestBundleDisabledWithoutTrust(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	if r := e.post(t, "bundle", map[string]string{"certificate": "x"}); r.Status != http.StatusNotFound {
		t.Errorf("bundle without trust: %d %s", r.Status, r.Raw)
	}
}
