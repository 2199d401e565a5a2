package server

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
)

// testAuthKeyHex and testPrevKeyHex are the auth keys of authConfig.
const (
	testAuthKeyHex = "00112233445566778899aabbccddeeff"
	testPrevKeyHex = "ffeeddccbbaa99887766554433221100"
)

// plainConfig is a CFSSL signing config without authentication.
const plainConfig = `{"signing":{
 "default":{"usages":["digital signature","key encipherment","server auth","client auth"],"expiry":"8760h"},
 "profiles":{
  "server":{"usages":["digital signature","server auth"],"expiry":"720h"},
  "client":{"usages":["digital signature","client auth"],"expiry":"24h"}}}}`

// authConfig has an auth_key profile with a previous key.
const authConfig = `{"signing":{
 "default":{"usages":["digital signature","server auth"],"expiry":"720h","auth_key":"k","prev_auth_key":"old"},
 "profiles":{
  "server":{"usages":["digital signature","server auth"],"expiry":"720h","auth_key":"k"},
  "ext":{"usages":["digital signature","server auth"],"expiry":"720h","auth_key":"k","allowed_extensions":["1.2.3.4"]}}},
 "auth_keys":{"k":{"type":"standard","key":"` + testAuthKeyHex + `"},"old":{"type":"standard","key":"` + testPrevKeyHex + `"}}}`

// testEnv is a running server with its CAs and store.
type testEnv struct {
	srv   *httptest.Server
	set   *authority.Set
	store *storesqlite.Store
	cas   map[string]*x509.Certificate
}

// newCA makes a self-signed ECDSA CA and its issuer.
func newCA(t *testing.T, label, cn, cfgJSON string, store *storesqlite.Store) (*ca.Issuer, *x509.Certificate) {
	t.Helper()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := ca.InitCA(context.Background(), ca.InitCARequest{
		Request: &csr.Request{CN: cn, Names: []csr.Name{{C: "US", O: "pkid test"}}, KeyRequest: csr.DefaultKeyRequest()},
		Signer:  key,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := profile.ParseCFSSL([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: label, Certificate: cert.Cert, Signer: key, Profiles: cfg, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return iss, cert.Cert
}

// newEnv starts a server with CAs "primary" (default) and "secondary",
// both using cfgJSON, on a fresh SQLite store; mod adjusts the options.
func newEnv(t *testing.T, cfgJSON string, mod func(*Options)) *testEnv {
	t.Helper()
	store, err := storesqlite.Open(context.Background(), storesqlite.Options{Path: filepath.Join(t.TempDir(), "certs.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &testEnv{store: store, set: &authority.Set{CAs: map[string]*ca.Issuer{}, Default: "primary"}, cas: map[string]*x509.Certificate{}}
	for _, l := range []string{"primary", "secondary"} {
		iss, cert := newCA(t, l, "pkid test CA "+l, cfgJSON, store)
		e.set.CAs[l], e.cas[l] = iss, cert
	}
	opts := Options{CAs: e.set, Store: store}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(s.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// response is a decoded envelope plus the raw reply.
type response struct {
	Status   int
	Raw      []byte
	Header   http.Header
	Success  bool            `json:"success"`
	Result   json.RawMessage `json:"result"`
	Errors   []message       `json:"errors"`
	Messages []message       `json:"messages"`
}

// do sends a request to the endpoint and decodes the envelope.
func (e *testEnv) do(t *testing.T, method, endpoint string, body []byte) *response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+BasePath+endpoint, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := &response{Status: resp.StatusCode, Raw: raw, Header: resp.Header}
	if err := json.Unmarshal(raw, r); err != nil {
		t.Fatalf("%s %s: reply is not JSON: %v\n%s", method, endpoint, err, raw)
	}
	return r
}

// post sends v as JSON (or []byte/string as is).
func (e *testEnv) post(t *testing.T, endpoint string, v any) *response {
	t.Helper()
	switch b := v.(type) {
	case []byte:
		return e.do(t, http.MethodPost, endpoint, b)
	case string:
		return e.do(t, http.MethodPost, endpoint, []byte(b))
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, http.MethodPost, endpoint, b)
}

// wantOK fails unless r is a success.
func wantOK(t *testing.T, r *response) {
	t.Helper()
	if r.Status != http.StatusOK || !r.Success || len(r.Errors) != 0 {
		t.Fatalf("want success, got %d %s", r.Status, r.Raw)
	}
}

// wantError fails unless r is a failure with status, code and a message
// containing want.
func wantError(t *testing.T, r *response, status, code int, want string) {
	t.Helper()
	if r.Status != status || r.Success || len(r.Errors) != 1 || r.Errors[0].Code != code ||
		!strings.Contains(r.Errors[0].Message, want) || string(r.Result) != "null" {
		t.Fatalf("want %d/%d %q, got %d %s", status, code, want, r.Status, r.Raw)
	}
}

// makeCSR returns a PEM CSR for cn and hosts with a fresh key.
func makeCSR(t *testing.T, cn string, hosts ...string) []byte {
	t.Helper()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	p, err := csr.Generate(&csr.Request{CN: cn, Hosts: hosts, Names: []csr.Name{{C: "US", O: "Example"}}, KeyRequest: csr.DefaultKeyRequest()}, key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// certOf parses result.certificate (or result[field]) of r.
func certOf(t *testing.T, r *response, field string) *x509.Certificate {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Result, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[field].(string)
	return parsePEMCert(t, []byte(s))
}

// parsePEMCert parses one PEM certificate.
func parsePEMCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("no PEM in %q", data)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verifies checks that leaf chains to root.
func verifies(t *testing.T, leaf, root *x509.Certificate) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("certificate does not verify against %s: %v", root.Subject.CommonName, err)
	}
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// pemOf encodes a DER certificate as PEM.
func pemOf(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
