package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/pkid/pkid/core/client"
	"github.com/pkid/pkid/core/forward"
)

// An mTLS client outside client_cert_policy is refused for every forwarded
// endpoint, as for the local ones, and nothing reaches the remote.
func TestForwardedClientCertPolicy(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	policy := ClientCertPolicy{}
	for _, ep := range []string{"sign", "authsign", "newcert", "info"} {
		policy[ep] = []string{"^ops-.*$"}
	}
	s, err := New(Options{CAs: e.set, Store: e.store, ClientCertPolicy: policy})
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			return
		}
		hits.Add(1)
		fmt.Fprint(w, `{"success":true,"result":{"certificate":"REMOTE CERT","usages":[],"expiry":"1h"},"errors":[],"messages":[]}`)
	}))
	defer up.Close()
	c, err := client.New(up.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	localKey := []byte("forwarding profile local key 0123")
	rem := &forward.Remote{Name: "up", Client: c, LocalKeys: [][]byte{localKey}}
	open := &forward.Remote{Name: "up", Client: c}
	fwd := forward.New(s.Handler(), forward.Options{Local: true, Guard: s, Profiles: map[string]*forward.Remote{"fwd": open, "fwdauth": rem}})
	srv := httptest.NewUnstartedServer(fwd)
	pool := x509.NewCertPool()
	pool.AddCert(e.cas["secondary"])
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	ops := clientCert(t, e.set.CAs["secondary"], "ops-1")
	intruder := clientCert(t, e.set.CAs["secondary"], "intruder")
	do := func(cert *tls.Certificate, endpoint string, body []byte) *response {
		t.Helper()
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		resp, err := (&http.Client{Transport: tr}).Post(srv.URL+BasePath+endpoint, "application/json", bytes.NewReader(body))
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
	csrPEM := string(makeCSR(t, "m.example", "m.example"))
	signBody, _ := json.Marshal(map[string]any{"certificate_request": csrPEM, "profile": "fwd"})
	authInner, _ := json.Marshal(map[string]any{"certificate_request": csrPEM, "profile": "fwdauth"})
	for _, tc := range []struct {
		endpoint string
		body     []byte
	}{
		{"sign", signBody},
		{"newcert", []byte(`{"profile":"fwd","request":{"CN":"n.example","hosts":["n.example"]}}`)},
		{"info", []byte(`{"profile":"fwd"}`)},
		{"authsign", tokenWrap(localKey, authInner)},
		{"sign", tokenWrap(localKey, authInner)},
	} {
		wantError(t, do(&intruder, tc.endpoint, tc.body), http.StatusForbidden, http.StatusForbidden, "Invalid CN")
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("refused requests reached the remote: %d", n)
	}
	wantOK(t, do(&ops, "sign", signBody))
	wantOK(t, do(&ops, "info", []byte(`{"profile":"fwd"}`)))
	wantOK(t, do(&ops, "authsign", tokenWrap(localKey, authInner)))
	// An authorised client still needs the profile's token.
	wantError(t, do(&ops, "authsign", tokenWrap([]byte("wrong key wrong key wrong key!!"), authInner)), 400, 400, "invalid token")
	if n := hits.Load(); n != 3 {
		t.Fatalf("remote got %d requests, want 3", n)
	}
}
