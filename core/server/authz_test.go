package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
)

// mtlsPoster serves s over TLS, verifying client certificates of e's
// secondary CA when offered, and returns a poster: cert nil sends none.
func mtlsPoster(t *testing.T, e *testEnv, s *Server) func(cert *tls.Certificate, method, endpoint string, body []byte) *response {
	t.Helper()
	srv := httptest.NewUnstartedServer(s.Handler())
	pool := x509.NewCertPool()
	pool.AddCert(e.cas["secondary"])
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return func(cert *tls.Certificate, method, endpoint string, body []byte) *response {
		t.Helper()
		tr := srv.Client().Transport.(*http.Transport).Clone()
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		req, err := http.NewRequest(method, srv.URL+BasePath+endpoint, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		r := &response{Status: resp.StatusCode, Raw: raw, Header: resp.Header}
		if err := json.Unmarshal(raw, r); err != nil {
			t.Fatalf("%s: reply is not JSON: %v\n%s", endpoint, err, raw)
		}
		return r
	}
}

// issueDirect issues a leaf for cn from the CA label without the API.
func issueDirect(t *testing.T, e *testEnv, label, cn string) *x509.Certificate {
	t.Helper()
	c, err := e.set.CAs[label].Sign(context.Background(), ca.SignRequest{CSR: makeCSR(t, cn, cn)})
	if err != nil {
		t.Fatal(err)
	}
	return c.Cert
}

// gencrlBodyFor is a valid gencrl body with a fresh throwaway CA.
func gencrlBodyFor(t *testing.T) []byte {
	t.Helper()
	key, _ := csr.DefaultKeyRequest().Generate()
	keyPEM, _ := csr.EncodePrivateKey(key)
	b, _ := json.Marshal(map[string]any{"certificate": pemOf(caWithKey(t, key).Raw), "serialNumber": []string{"1"}, "issuingKey": string(keyPEM)})
	return b
}

// tokenWrap wraps inner in the token wrapper under key.
func tokenWrap(key, inner []byte) []byte {
	b, _ := json.Marshal(map[string]string{"token": Token(key, inner), "request": base64.StdEncoding.EncodeToString(inner)})
	return b
}

// Issue 11 item 2: a client_cert_policy naming only sign must not leave the
// other guarded endpoints open to any verified client.
func TestClientCertPolicyGuardsEveryEndpoint(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	ocspKey := []byte("ocspsign key material")
	s, err := New(Options{CAs: e.set, Store: e.store, Enabled: []string{"gencrl", "ocspsign"},
		ClientCertPolicy: ClientCertPolicy{"sign": {"^ops-.*$"}},
		AuthKeys:         map[string]profile.AuthKey{"ocspsign": {Type: "standard", Key: ocspKey}}})
	if err != nil {
		t.Fatal(err)
	}
	post := mtlsPoster(t, e, s)
	ops := clientCert(t, e.set.CAs["secondary"], "ops-1")
	intruder := clientCert(t, e.set.CAs["secondary"], "intruder")
	leaf := issueDirect(t, e, "primary", "victim.example")
	revokeBody, _ := json.Marshal(map[string]string{"serial": leaf.SerialNumber.String(), "authority_key_id": hex.EncodeToString(leaf.AuthorityKeyId)})
	ocspBody, _ := json.Marshal(map[string]string{"certificate": pemOf(leaf.Raw), "status": "good"})
	guarded := []struct {
		endpoint string
		body     []byte
	}{
		{"newcert", []byte(`{"request":{"CN":"n.example","hosts":["n.example"]}}`)},
		{"revoke", revokeBody},
		{"ocspsign", ocspBody},
		{"gencrl", gencrlBodyFor(t)},
		{"newkey", []byte(`{"CN":"k.example"}`)},
		{"init_ca", []byte(`{"CN":"Rogue Root","key":{"algo":"ecdsa","size":256}}`)},
	}
	for _, g := range guarded {
		for name, cert := range map[string]*tls.Certificate{"intruder": &intruder, "sign-only client": &ops} {
			t.Run(g.endpoint+"/"+name, func(t *testing.T) {
				r := post(cert, http.MethodPost, g.endpoint, g.body)
				wantError(t, r, http.StatusForbidden, http.StatusForbidden, g.endpoint)
			})
		}
	}
	// The victim was not revoked.
	rec, err := e.store.Get(context.Background(), leaf.SerialNumber.String(), hex.EncodeToString(leaf.AuthorityKeyId))
	if err != nil || rec.Status == "revoked" {
		t.Errorf("victim record: %+v %v", rec, err)
	}
	// sign still follows its own entry.
	signBody, _ := json.Marshal(map[string]any{"certificate_request": string(makeCSR(t, "m.example", "m.example"))})
	wantOK(t, post(&ops, http.MethodPost, "sign", signBody))
	wantError(t, post(&intruder, http.MethodPost, "sign", signBody), 403, 403, "Invalid CN")
	// HMAC-token requests are unaffected: a verified but unlisted client
	// may still use the endpoint's token.
	wantOK(t, post(&intruder, http.MethodPost, "ocspsign", tokenWrap(ocspKey, ocspBody)))
	wantError(t, post(&intruder, http.MethodPost, "ocspsign", tokenWrap([]byte("wrong"), ocspBody)), 400, 400, "invalid token")
	// Read-only endpoints stay open.
	wantOK(t, post(&intruder, http.MethodPost, "info", []byte(`{}`)))
	wantOK(t, post(&intruder, http.MethodGet, "crl", nil))
	wantOK(t, post(&intruder, http.MethodGet, "health", nil))
	wantOK(t, post(&intruder, http.MethodPost, "certinfo", []byte(`{"certificate":`+jsonString(pemOf(leaf.Raw))+`}`)))
}

// A "*" entry authorises the guarded endpoints without their own entry.
func TestClientCertPolicyStarEntry(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	s, err := New(Options{CAs: e.set, Store: e.store,
		ClientCertPolicy: ClientCertPolicy{"sign": {"^svc-.*$"}, "*": {"^ops-.*$"}}})
	if err != nil {
		t.Fatal(err)
	}
	post := mtlsPoster(t, e, s)
	ops := clientCert(t, e.set.CAs["secondary"], "ops-1")
	svc := clientCert(t, e.set.CAs["secondary"], "svc-1")
	body := []byte(`{"request":{"CN":"n.example","hosts":["n.example"]}}`)
	wantOK(t, post(&ops, http.MethodPost, "newcert", body))
	wantError(t, post(&svc, http.MethodPost, "newcert", body), 403, 403, "newcert")
	wantOK(t, post(&ops, http.MethodPost, "newkey", []byte(`{"CN":"k.example"}`)))
	// sign has its own entry: "*" does not widen it.
	signBody, _ := json.Marshal(map[string]any{"certificate_request": string(makeCSR(t, "m.example", "m.example"))})
	wantOK(t, post(&svc, http.MethodPost, "sign", signBody))
	wantError(t, post(&ops, http.MethodPost, "sign", signBody), 403, 403, "Invalid CN")
	// "*" does not close the read-only endpoints to relying parties.
	wantOK(t, post(nil, http.MethodGet, "crl", nil))
	wantOK(t, post(nil, http.MethodGet, "health", nil))
	wantOK(t, post(&svc, http.MethodPost, "info", []byte(`{}`)))
}

// Issue 11 item 5: once any authentication is configured, newkey and
// init_ca need it like sign: a client certificate or a token under the key
// named for the endpoint.
func TestKeyGenerationNeedsAuthentication(t *testing.T) {
	keys := map[string]profile.AuthKey{
		"newkey":  {Type: "standard", Key: []byte("newkey key material")},
		"init_ca": {Type: "standard", Key: []byte("init_ca key material")},
	}
	e := newEnv(t, authConfig, func(o *Options) { o.AuthKeys = keys })
	for _, tc := range []struct{ endpoint, body string }{
		{"newkey", `{"CN":"k.example"}`},
		{"init_ca", `{"CN":"Some Root","key":{"algo":"ecdsa","size":256}}`},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			wantError(t, e.post(t, tc.endpoint, tc.body), 400, 400, "authentication required")
			wantOK(t, e.post(t, tc.endpoint, tokenWrap(keys[tc.endpoint].Key, []byte(tc.body))))
			other := "newkey"
			if tc.endpoint == other {
				other = "init_ca"
			}
			wantError(t, e.post(t, tc.endpoint, tokenWrap(keys[other].Key, []byte(tc.body))), 400, 400, "invalid token")
		})
	}
	// Without any authentication configured they stay open (CFSSL).
	open := newEnv(t, plainConfig, nil)
	wantOK(t, open.post(t, "newkey", `{"CN":"k.example"}`))
}

// Issue 11 item 6: ocspsign is off unless enabled, and enabling it without
// authentication is refused at startup.
func TestOCSPSignOptIn(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	leaf := issueDirect(t, e, "primary", "o.example")
	wantError(t, e.post(t, "ocspsign", map[string]string{"certificate": pemOf(leaf.Raw)}), 404, 404, "not found")

	_, err := New(Options{CAs: e.set, Store: e.store, Enabled: []string{"ocspsign"}})
	if err == nil || !strings.Contains(err.Error(), "ocspsign") || !strings.Contains(err.Error(), "authentication") || strings.Contains(err.Error(), "\n") {
		t.Errorf("ocspsign enabled without authentication: err %v", err)
	}
	// Disabled wins: no error.
	if _, err := New(Options{CAs: e.set, Store: e.store, Enabled: []string{"ocspsign"}, Disabled: []string{"ocspsign"}}); err != nil {
		t.Errorf("enabled and disabled: %v", err)
	}
	// With authentication it starts and requires it.
	a := newEnv(t, authConfig, func(o *Options) { o.Enabled = []string{"ocspsign"} })
	wantError(t, a.post(t, "ocspsign", map[string]string{"certificate": pemOf(leaf.Raw)}), 400, 400, "authentication required")
}
