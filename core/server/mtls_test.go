package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
)

// clientCert issues a client certificate for cn under iss.
func clientCert(t *testing.T, iss *ca.Issuer, cn string) tls.Certificate {
	t.Helper()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	p, err := csr.Generate(&csr.Request{CN: cn, KeyRequest: csr.DefaultKeyRequest()}, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Sign(context.Background(), ca.SignRequest{CSR: p, Profile: "client"})
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{c.DER}, PrivateKey: key, Leaf: c.Cert}
}

func TestClientCertPolicy(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	s, err := New(Options{CAs: e.set, Store: e.store, ClientCertPolicy: ClientCertPolicy{"sign": {"ops-.*"}, "info": {}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s.Handler())
	pool := x509.NewCertPool()
	pool.AddCert(e.cas["secondary"])
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	post := func(cert *tls.Certificate, endpoint string, body []byte) (int, string) {
		t.Helper()
		tr := srv.Client().Transport.(*http.Transport).Clone()
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		resp, err := (&http.Client{Transport: tr}).Post(srv.URL+BasePath+endpoint, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	body, _ := json.Marshal(map[string]any{"certificate_request": string(makeCSR(t, "m.example", "m.example"))})
	ops := clientCert(t, e.set.CAs["secondary"], "ops-1")
	other := clientCert(t, e.set.CAs["secondary"], "x-ops-1") // matches only unanchored

	if st, raw := post(&ops, "sign", body); st != 200 {
		t.Errorf("authorised client: %d %s", st, raw)
	}
	if st, raw := post(&other, "sign", body); st != 403 || !bytes.Contains([]byte(raw), []byte(`"code":403,"message":"Invalid CN`)) {
		t.Errorf("pattern must be anchored: %d %s", st, raw)
	}
	if st, raw := post(nil, "sign", body); st != 400 || !bytes.Contains([]byte(raw), []byte("authentication required")) {
		t.Errorf("no client certificate: %d %s", st, raw)
	}
	// An empty list admits any verified client; none at all is refused.
	if st, raw := post(&other, "info", []byte(`{}`)); st != 200 {
		t.Errorf("info with client: %d %s", st, raw)
	}
	if st, raw := post(nil, "info", []byte(`{}`)); st != 403 {
		t.Errorf("info without client: %d %s", st, raw)
	}
	// No policy entry for newkey: a policy is authentication, so newkey
	// needs it (issue 11).
	if st, raw := post(nil, "newkey", []byte(`{"CN":"k"}`)); st != 400 || !bytes.Contains([]byte(raw), []byte("authentication required")) {
		t.Errorf("newkey: %d %s", st, raw)
	}
	if _, err := New(Options{ClientCertPolicy: ClientCertPolicy{"sign": {"("}}}); err == nil {
		t.Error("bad pattern accepted")
	}
}
