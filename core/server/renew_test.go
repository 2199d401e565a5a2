package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/sdk"
)

// renewEnv serves the API over TLS that requests (not requires) client
// certificates, as the daemon does.
type renewEnv struct {
	*testEnv
	tls *httptest.Server
}

func newRenewEnv(t *testing.T, mod func(*Options)) *renewEnv {
	t.Helper()
	e := newEnv(t, plainConfig, nil)
	opts := Options{CAs: e.set, Store: e.store, MaxBodyBytes: 64 << 10}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &renewEnv{testEnv: e, tls: srv}
}

// call sends method to endpoint with cert as the TLS client certificate.
func (e *renewEnv) call(t *testing.T, cert *tls.Certificate, method, endpoint string, body []byte) *response {
	t.Helper()
	tr := e.tls.Client().Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	req, _ := http.NewRequest(method, e.tls.URL+BasePath+endpoint, bytes.NewReader(body))
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := &response{Status: resp.StatusCode, Raw: raw, Header: resp.Header}
	if err := json.Unmarshal(raw, r); err != nil {
		t.Fatalf("%s: reply is not JSON: %s", endpoint, raw)
	}
	return r
}

// issueWith signs a certificate for cn and hosts with profile under iss,
// with sr adjusting the request.
func issueWith(t *testing.T, iss *ca.Issuer, cn, prof string, hosts []string, sr func(*ca.SignRequest)) tls.Certificate {
	t.Helper()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	p, err := csr.Generate(&csr.Request{CN: cn, Hosts: hosts, KeyRequest: csr.DefaultKeyRequest()}, key)
	if err != nil {
		t.Fatal(err)
	}
	req := ca.SignRequest{CSR: p, Profile: prof}
	if sr != nil {
		sr(&req)
	}
	c, err := iss.Sign(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{c.DER}, PrivateKey: key, Leaf: c.Cert}
}

func renewBodyFor(t *testing.T, cn string, hosts ...string) []byte {
	b, _ := json.Marshal(map[string]string{"certificate_request": string(makeCSR(t, cn, hosts...))})
	return b
}

func TestRenew(t *testing.T) {
	e := newRenewEnv(t, nil)
	iss := e.set.CAs["secondary"]
	cur := issueWith(t, iss, "svc-a", "server", []string{"a.example", "127.0.0.1"}, nil)

	r := e.call(t, &cur, http.MethodPost, "renew", renewBodyFor(t, "svc-a", "127.0.0.1", "a.example"))
	wantOK(t, r)
	nc := certOf(t, r, "certificate")
	verifies(t, nc, e.cas["secondary"])
	if nc.Subject.CommonName != "svc-a" || nc.SerialNumber.Cmp(cur.Leaf.SerialNumber) == 0 ||
		strings.Join(sansOf(nc), ",") != "a.example,127.0.0.1" {
		t.Fatalf("renewed certificate: CN %q serial %v SANs %v", nc.Subject.CommonName, nc.SerialNumber, sansOf(nc))
	}
	rec, err := e.store.Get(context.Background(), nc.SerialNumber.String(), iss.AKI())
	if err != nil || rec.Profile != "server" || rec.IssuerLabel != "secondary" {
		t.Fatalf("record of the renewal: %+v %v", rec, err)
	}
	// A CSR without names takes the certificate's.
	r = e.call(t, &cur, http.MethodPost, "renew", renewBodyFor(t, ""))
	wantOK(t, r)
	if got := certOf(t, r, "certificate"); strings.Join(sansOf(got), ",") != "a.example,127.0.0.1" || got.Subject.CommonName != "svc-a" {
		t.Fatalf("names not kept: %v %q", sansOf(got), got.Subject.CommonName)
	}
}

func TestRenewHostile(t *testing.T) {
	// primary is replaced by a CA whose key the test keeps, to sign a
	// certificate that is not on record.
	var unrecordedIss *ca.Issuer
	var caKey crypto.Signer
	e := newRenewEnv(t, func(o *Options) {
		key, err := csr.DefaultKeyRequest().Generate()
		if err != nil {
			t.Fatal(err)
		}
		cert, _, err := ca.InitCA(context.Background(), ca.InitCARequest{
			Request: &csr.Request{CN: "pkid test CA kept", KeyRequest: csr.DefaultKeyRequest()}, Signer: key})
		if err != nil {
			t.Fatal(err)
		}
		profiles := o.CAs.CAs["primary"].Profiles()
		iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "primary", Certificate: cert.Cert, Signer: key, Profiles: profiles, Store: o.Store})
		if err != nil {
			t.Fatal(err)
		}
		o.CAs.CAs["primary"], caKey = iss, key
		if unrecordedIss, err = ca.NewIssuer(ca.IssuerConfig{Label: "primary", Certificate: cert.Cert, Signer: key, Profiles: profiles}); err != nil {
			t.Fatal(err)
		}
	})
	iss := e.set.CAs["primary"]
	good := issueWith(t, iss, "svc-b", "client", []string{"b.example"}, nil)
	// Expired, on record: signed directly with the CA key (profiles refuse
	// a validity in the past).
	expKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	expDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "svc-b"},
		DNSNames: []string{"b.example"}, NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)},
		iss.Certificate(), expKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	expCert, _ := x509.ParseCertificate(expDER)
	if err := e.store.Put(context.Background(), ca.Record(expCert, "primary", "client", nil)); err != nil {
		t.Fatal(err)
	}
	expired := tls.Certificate{Certificate: [][]byte{expDER}, PrivateKey: expKey, Leaf: expCert}
	revoked := issueWith(t, iss, "svc-b", "client", []string{"b.example"}, nil)
	if err := e.store.Revoke(context.Background(), sdk.RevokeRequest{Serial: revoked.Leaf.SerialNumber.String(), AKI: iss.AKI(), Reason: 1}); err != nil {
		t.Fatal(err)
	}
	// A CA that is not the server's, and one that forges the server CA's key id.
	foreignIss, _ := newCA(t, "foreign", "foreign CA", plainConfig, e.store)
	foreign := issueWith(t, foreignIss, "svc-b", "client", []string{"b.example"}, nil)
	forged := impostor(t, iss.Certificate(), "svc-b", "b.example")
	// Not on record: signed by the server's CA key but never stored.
	unrecorded := issueWith(t, unrecordedIss, "svc-b", "client", []string{"b.example"}, nil)

	body := renewBodyFor(t, "svc-b", "b.example")
	cases := []struct {
		name   string
		cert   *tls.Certificate
		body   []byte
		status int
		want   string
	}{
		{"no client certificate", nil, body, 403, "needs the current certificate"},
		{"expired", &expired, body, 403, "not valid now"},
		{"revoked", &revoked, body, 403, "revoked"},
		{"foreign CA", &foreign, body, 403, "not issued by a CA of this server"},
		{"same-name CA", &forged, body, 403, "not issued by a CA of this server"},
		{"not on record", &unrecorded, body, 403, "not on record"},
		{"other CN", &good, renewBodyFor(t, "svc-admin", "b.example"), 400, "common name"},
		{"other SANs", &good, renewBodyFor(t, "svc-b", "b.example", "admin.example"), 400, "renew keeps the names"},
		{"malformed CSR", &good, []byte(`{"certificate_request":"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}`), 400, "bad certificate request"},
		{"no CSR", &good, []byte(`{}`), 400, "missing parameter"},
		{"not JSON", &good, []byte(`[`), 400, "Unable to parse renew request"},
		{"wrong type", &good, []byte(`{"certificate_request":7}`), 400, "certificate_request"},
		{"oversized", &good, bytes.Repeat([]byte("a"), 65<<10), 413, "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tc.cert, http.MethodPost, "renew", tc.body)
			if r.Status != tc.status || r.Success || len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, tc.want) {
				t.Fatalf("want %d %q, got %d %s", tc.status, tc.want, r.Status, r.Raw)
			}
		})
	}
	if r := e.call(t, &good, http.MethodGet, "renew", nil); r.Status != 405 {
		t.Fatalf("GET renew: %d %s", r.Status, r.Raw)
	}
	wantOK(t, e.call(t, &good, http.MethodPost, "renew", body))
}

func TestRenewPolicy(t *testing.T) {
	e := newRenewEnv(t, func(o *Options) { o.ClientCertPolicy = ClientCertPolicy{"*": {"ops-.*"}} })
	iss := e.set.CAs["primary"]
	ops := issueWith(t, iss, "ops-1", "client", nil, nil)
	web := issueWith(t, iss, "web-1", "client", nil, nil)
	wantOK(t, e.call(t, &ops, http.MethodPost, "renew", renewBodyFor(t, "ops-1")))
	r := e.call(t, &web, http.MethodPost, "renew", renewBodyFor(t, "web-1"))
	wantError(t, r, 403, 403, `Invalid CN "web-1" for renew`)

	e2 := newRenewEnv(t, func(o *Options) { o.Disabled = []string{"renew"} })
	if r := e2.call(t, &ops, http.MethodPost, "renew", renewBodyFor(t, "ops-1")); r.Status != 404 {
		t.Fatalf("disabled renew: %d", r.Status)
	}
}

func TestRenewalInfo(t *testing.T) {
	e := newRenewEnv(t, nil)
	iss := e.set.CAs["primary"]
	c := issueWith(t, iss, "svc-c", "client", nil, nil)
	id := CertID{AKI: iss.AKI(), Serial: c.Leaf.SerialNumber}.String()
	if back, err := ParseCertID(id); err != nil || back.AKI != iss.AKI() || back.Serial.Cmp(c.Leaf.SerialNumber) != 0 {
		t.Fatalf("certID round trip: %v %v", back, err)
	}
	r := e.call(t, nil, http.MethodGet, "renewal-info/"+id, nil)
	wantOK(t, r)
	var ri RenewalInfo
	if err := json.Unmarshal(r.Result, &ri); err != nil {
		t.Fatal(err)
	}
	w := ri.SuggestedWindow
	if !w.Start.After(c.Leaf.NotBefore) || !w.End.After(w.Start) || !w.End.Before(c.Leaf.NotAfter) {
		t.Fatalf("window %v–%v not inside %v–%v", w.Start, w.End, c.Leaf.NotBefore, c.Leaf.NotAfter)
	}
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 60 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if !bytes.Contains(r.Result, []byte(`"suggestedWindow":{"start":"`)) {
		t.Fatalf("not RFC 9773's shape: %s", r.Result)
	}
	// Revoked: a window in the past, "renew now".
	if err := e.store.Revoke(context.Background(), sdk.RevokeRequest{Serial: c.Leaf.SerialNumber.String(), AKI: iss.AKI(), Reason: 1}); err != nil {
		t.Fatal(err)
	}
	r = e.call(t, nil, http.MethodGet, "renewal-info/"+id, nil)
	wantOK(t, r)
	_ = json.Unmarshal(r.Result, &ri)
	if !ri.SuggestedWindow.End.Before(time.Now()) {
		t.Fatalf("revoked: window %v not in the past", ri.SuggestedWindow)
	}

	b64 := base64.RawURLEncoding.EncodeToString
	aki := b64(iss.Certificate().SubjectKeyId)
	cases := []struct {
		name, id string
		status   int
		want     string
	}{
		{"no certID", "", 400, "needs a certID"},
		{"one part", aki, 400, "want base64url"},
		{"three parts", aki + ".AQ.AQ", 400, "want base64url"},
		{"padded", aki + ".AQ==", 400, "serial is not unpadded"},
		{"std alphabet", "+/+/" + ".AQ", 400, "key identifier"},
		{"empty serial", aki + ".", 400, "serial"},
		{"negative serial", aki + "." + b64([]byte{0xff, 1}), 400, "negative"},
		{"zero serial", aki + "." + b64([]byte{0}), 400, "zero"},
		{"padded serial", aki + "." + b64([]byte{0, 1}), 400, "minimally"},
		{"too long", aki + "." + strings.Repeat("A", 300), 400, "longer than"},
		{"unknown CA", b64([]byte("nope")) + ".AQ", 404, "no CA"},
		{"unknown serial", aki + "." + b64(big.NewInt(424242).Bytes()), 404, "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, nil, http.MethodGet, "renewal-info/"+tc.id, nil)
			if r.Status != tc.status || r.Success || len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, tc.want) {
				t.Fatalf("want %d %q, got %d %s", tc.status, tc.want, r.Status, r.Raw)
			}
		})
	}
	if r := e.call(t, nil, http.MethodPost, "renewal-info/"+id, []byte(`{}`)); r.Status != 405 {
		t.Fatalf("POST renewal-info: %d", r.Status)
	}
	if r := e.call(t, nil, http.MethodGet, "sign/"+id, nil); r.Status != 404 {
		t.Fatalf("a path element after another endpoint: %d", r.Status)
	}
}

func TestSuggestWindow(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := SuggestWindow(nb, nb.Add(90*24*time.Hour), false, nb)
	if !w.Start.Equal(nb.Add(60*24*time.Hour)) || !w.End.Equal(nb.Add(75*24*time.Hour)) {
		t.Fatalf("90-day window %v", w)
	}
	now := nb.Add(time.Hour)
	if w := SuggestWindow(nb, nb.Add(90*24*time.Hour), true, now); !w.End.Before(now) || !w.Start.Before(w.End) {
		t.Fatalf("revoked window %v", w)
	}
}

func FuzzParseCertID(f *testing.F) {
	f.Add("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
	f.Add("")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseCertID(s)
		if err != nil {
			return
		}
		if id.Serial.Sign() <= 0 {
			t.Fatalf("accepted serial %v", id.Serial)
		}
		if back, err := ParseCertID(id.String()); err != nil || back.AKI != id.AKI || back.Serial.Cmp(id.Serial) != 0 {
			t.Fatalf("round trip of %q: %v %v", s, back, err)
		}
	})
}

// impostor issues a leaf for cn under a self-made CA with real's subject
// and key identifier but another key.
func impostor(t *testing.T, real *x509.Certificate, cn, host string) tls.Certificate {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: real.Subject, SubjectKeyId: real.SubjectKeyId,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	fake, _ := x509.ParseCertificate(der)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err = x509.CreateCertificate(rand.Reader, leaf, fake, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	lc, _ := x509.ParseCertificate(der)
	if !bytes.Equal(lc.AuthorityKeyId, real.SubjectKeyId) {
		t.Fatal("impostor leaf does not carry the real CA's key id")
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: lc}
}
