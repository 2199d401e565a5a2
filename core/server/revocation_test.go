package server

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"golang.org/x/crypto/ocsp"
)

// signLeaf issues a certificate from the CA label ("" = default).
func signLeaf(t *testing.T, e *testEnv, label, cn string) *x509.Certificate {
	t.Helper()
	r := e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, cn, cn)), "label": label})
	wantOK(t, r)
	return certOf(t, r, "certificate")
}

// revokeCert revokes c through the API with reason.
func revokeCert(t *testing.T, e *testEnv, c *x509.Certificate, reason string) {
	t.Helper()
	wantOK(t, e.post(t, "revoke", map[string]string{
		"serial": c.SerialNumber.String(), "authority_key_id": hex.EncodeToString(c.AuthorityKeyId), "reason": reason,
	}))
}

// crlOf decodes a base64 DER CRL result and checks its signature by ca.
func crlOf(t *testing.T, r *response, caCert *x509.Certificate) *x509.RevocationList {
	t.Helper()
	wantOK(t, r)
	var s string
	if err := json.Unmarshal(r.Result, &s); err != nil {
		t.Fatalf("result is not a string: %s", r.Result)
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(caCert); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	return crl
}

// serialsOf lists the CRL's serials with their reasons.
func serialsOf(crl *x509.RevocationList) map[string]int {
	m := map[string]int{}
	for _, e := range crl.RevokedCertificateEntries {
		m[e.SerialNumber.String()] = e.ReasonCode
	}
	return m
}

func TestCRLEndpoint(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	good := signLeaf(t, e, "", "good.example")
	bad := signLeaf(t, e, "", "bad.example")
	other := signLeaf(t, e, "secondary", "other.example")
	revokeCert(t, e, bad, "keyCompromise")
	revokeCert(t, e, other, "superseded")

	before := time.Now().Add(-time.Minute)
	crl := crlOf(t, e.do(t, http.MethodGet, "crl", nil), e.cas["primary"])
	got := serialsOf(crl)
	if len(got) != 1 || got[bad.SerialNumber.String()] != 1 {
		t.Fatalf("primary CRL lists %v, want only %s (reason 1); good %s", got, bad.SerialNumber, good.SerialNumber)
	}
	if d := crl.NextUpdate.Sub(crl.ThisUpdate); d != 168*time.Hour || crl.ThisUpdate.Before(before) {
		t.Errorf("validity %v from %v", d, crl.ThisUpdate)
	}

	crl = crlOf(t, e.do(t, http.MethodGet, "crl?label=secondary&expiry=24h", nil), e.cas["secondary"])
	got = serialsOf(crl)
	if len(got) != 1 || got[other.SerialNumber.String()] != 4 {
		t.Fatalf("secondary CRL lists %v, want only %s (reason 4)", got, other.SerialNumber)
	}
	if d := crl.NextUpdate.Sub(crl.ThisUpdate); d != 24*time.Hour {
		t.Errorf("validity %v", d)
	}

	wantError(t, e.do(t, http.MethodGet, "crl?expiry=soon", nil), 400, 400, "invalid expiry")
	wantError(t, e.do(t, http.MethodGet, "crl?label=nope", nil), 400, 400, "bad label")
	wantError(t, e.post(t, "crl", "{}"), 405, 405, "Method is not allowed")
}

func TestCRLEndpointStoreFallback(t *testing.T) {
	// A CA without its own store uses Options.Store; without either: 400.
	e := newEnv(t, plainConfig, nil)
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	caCert := caWithKey(t, key)
	cfg, err := profile.ParseCFSSL([]byte(plainConfig))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "bare", Certificate: caCert, Signer: key, Profiles: cfg})
	if err != nil {
		t.Fatal(err)
	}
	e.set.CAs["bare"] = iss
	s, err := New(Options{CAs: e.set, Store: e.store})
	if err != nil {
		t.Fatal(err)
	}
	e2 := &testEnv{srv: newTestServer(t, s), set: e.set, store: e.store}
	crl := crlOf(t, e2.do(t, http.MethodGet, "crl?label=bare", nil), caCert)
	if len(crl.RevokedCertificateEntries) != 0 {
		t.Errorf("entries %v", crl.RevokedCertificateEntries)
	}
	s, err = New(Options{CAs: e.set})
	if err != nil {
		t.Fatal(err)
	}
	e3 := &testEnv{srv: newTestServer(t, s)}
	wantError(t, e3.do(t, http.MethodGet, "crl?label=bare", nil), 400, 400, "no certificate store")
}

func TestGenCRL(t *testing.T) {
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := csr.EncodePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, plainConfig, nil)
	// The CA key of newEnv is not exposed: make one more CA with a known key.
	caCert := caWithKey(t, key)
	body := map[string]any{"certificate": pemOf(caCert.Raw), "serialNumber": []string{"12345", "678"}, "issuingKey": string(keyPEM), "expireTime": "3600"}

	wantError(t, e.post(t, "gencrl", body), 404, 404, "not found")

	e = newEnv(t, plainConfig, func(o *Options) { o.Enabled = []string{"gencrl"} })
	crl := crlOf(t, e.post(t, "gencrl", body), caCert)
	got := serialsOf(crl)
	if len(got) != 2 || got["12345"] != 0 || got["678"] != 0 {
		t.Fatalf("gencrl lists %v", got)
	}
	if d := crl.NextUpdate.Sub(crl.ThisUpdate); d != time.Hour {
		t.Errorf("validity %v", d)
	}
	body["expireTime"] = ""
	crl = crlOf(t, e.post(t, "gencrl", body), caCert)
	if d := crl.NextUpdate.Sub(crl.ThisUpdate); d != 168*time.Hour {
		t.Errorf("default validity %v", d)
	}
	body["expireTime"] = "0x10"
	crl = crlOf(t, e.post(t, "gencrl", body), caCert)
	if d := crl.NextUpdate.Sub(crl.ThisUpdate); d != 16*time.Second {
		t.Errorf("hex validity %v", d)
	}

	bad := func(k, v string) map[string]any {
		b := map[string]any{}
		for k, v := range body {
			b[k] = v
		}
		b[k] = v
		return b
	}
	wantError(t, e.post(t, "gencrl", bad("certificate", "junk")), 400, 400, "malformed certificate")
	wantError(t, e.post(t, "gencrl", bad("issuingKey", "junk")), 400, 400, "malformed Private Key")
	wantError(t, e.post(t, "gencrl", bad("expireTime", "soon")), 400, 400, "invalid expireTime")
	wantError(t, e.post(t, "gencrl", `{"certificate":`), 400, 400, "Unable to parse gencrl request")
	other, _ := csr.DefaultKeyRequest().Generate()
	otherPEM, _ := csr.EncodePrivateKey(other)
	wantError(t, e.post(t, "gencrl", bad("issuingKey", string(otherPEM))), 400, 2300, "does not match")

	// With authentication configured, gencrl needs a client or a token.
	e = newEnv(t, authConfig, func(o *Options) { o.Enabled = []string{"gencrl"} })
	wantError(t, e.post(t, "gencrl", body), 400, 400, "authentication required")

	if _, err := New(Options{Enabled: []string{"bogus"}}); err == nil {
		t.Error("unknown Enabled name accepted")
	}
}

func TestOCSPSign(t *testing.T) {
	// ocspsign needs enabling and authentication (issue 11): requests go
	// through the token wrapper under the key named "ocspsign".
	ocspKey := []byte("ocspsign key material")
	e := newEnv(t, plainConfig, func(o *Options) {
		o.Enabled = []string{"ocspsign"}
		o.AuthKeys = map[string]profile.AuthKey{"ocspsign": {Type: "standard", Key: ocspKey}}
	})
	post := func(t *testing.T, endpoint string, body map[string]any) *response {
		t.Helper()
		inner, _ := json.Marshal(body)
		return e.post(t, endpoint, tokenWrap(ocspKey, inner))
	}
	caCert := e.cas["primary"]
	leaf := issueDirect(t, e, "primary", "ocsp.example")
	sign := func(body map[string]any) *ocsp.Response {
		t.Helper()
		r := post(t, "ocspsign", body)
		wantOK(t, r)
		var res map[string]string
		if err := json.Unmarshal(r.Result, &res); err != nil {
			t.Fatal(err)
		}
		der, err := base64.StdEncoding.DecodeString(res["ocspResponse"])
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ocsp.ParseResponseForCert(der, leaf, caCert)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	p := pemOf(leaf.Raw)
	resp := sign(map[string]any{"certificate": p})
	if resp.Status != ocsp.Good || resp.SerialNumber.Cmp(leaf.SerialNumber) != 0 || resp.IssuerHash.String() != "SHA-1" {
		t.Errorf("good: %+v", resp)
	}
	resp = sign(map[string]any{"certificate": p, "status": "revoked", "reason": 1, "revoked_at": "2024-03-01", "issuer_hash": "SHA256"})
	if resp.Status != ocsp.Revoked || resp.RevocationReason != 1 || !resp.RevokedAt.Equal(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("revoked: %+v", resp)
	}
	resp = sign(map[string]any{"certificate": p, "status": "unknown"})
	if resp.Status != ocsp.Unknown {
		t.Errorf("unknown: %+v", resp)
	}

	wantError(t, post(t, "ocspsign", map[string]any{"certificate": p, "status": "bogus"}), 400, 8200, "invalid status")
	wantError(t, post(t, "ocspsign", map[string]any{"certificate": p, "issuer_hash": "MD5"}), 400, 400, "MD5 is not supported")
	wantError(t, post(t, "ocspsign", map[string]any{"certificate": p, "issuer_hash": "SHA3"}), 400, 400, "invalid issuer_hash")
	wantError(t, post(t, "ocspsign", map[string]any{"certificate": p, "status": "revoked", "reason": 7}), 400, 400, "Invalid reason code")
	wantError(t, post(t, "ocspsign", map[string]any{"certificate": p, "status": "revoked", "revoked_at": "yesterday"}), 400, 400, "malformed revocation time")
	wantError(t, post(t, "ocspsign", map[string]any{"certificate": "junk"}), 400, 400, "malformed certificate")
	wantError(t, post(t, "ocspsign", map[string]any{}), 400, 400, "missing parameter 'certificate'")
	wantError(t, post(t, "ocspsign", map[string]any{"certificate": p, "label": "nope"}), 400, 400, "bad label")
	// A certificate of the other CA, asked of the default one: 8100.
	foreign := issueDirect(t, e, "secondary", "foreign.example")
	wantError(t, post(t, "ocspsign", map[string]any{"certificate": pemOf(foreign.Raw)}), 400, 8100, "not issued by this issuer")
	// With its label it is fine.
	r := post(t, "ocspsign", map[string]any{"certificate": pemOf(foreign.Raw), "label": "secondary"})
	wantOK(t, r)

	wantError(t, e.post(t, "ocspsign", map[string]any{"certificate": p}), 400, 400, "authentication required")
}

// caWithKey makes a self-signed CA certificate for key.
func caWithKey(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	cert, _, err := ca.InitCA(context.Background(), ca.InitCARequest{
		Request: &csr.Request{CN: "gencrl CA", Names: []csr.Name{{C: "US", O: "pkid test"}}, KeyRequest: csr.DefaultKeyRequest()},
		Signer:  key,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cert.Cert
}

// newTestServer serves s for the test.
func newTestServer(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// With authentication on, ocspsign and gencrl accept the token wrapper
// under a key named for the endpoint (docs/differences-from-cfssl.md,
// "Authentication applies everywhere").
func TestRevocationEndpointsToken(t *testing.T) {
	keys := map[string]profile.AuthKey{"ocspsign": {Type: "standard", Key: []byte("ocsp key")}, "gencrl": {Type: "standard", Key: []byte("crl key")}}
	e := newEnv(t, authConfig, func(o *Options) { o.AuthKeys = keys; o.Enabled = []string{"gencrl", "ocspsign"} })
	// Issue through the token wrapper of sign (profile key k).
	k, _ := hex.DecodeString(testAuthKeyHex)
	inner, _ := json.Marshal(map[string]any{"certificate_request": string(makeCSR(t, "tok.example", "tok.example"))})
	r := e.post(t, "sign", map[string]string{"token": Token(k, inner), "request": base64.StdEncoding.EncodeToString(inner)})
	wantOK(t, r)
	leaf := certOf(t, r, "certificate")

	inner, _ = json.Marshal(map[string]any{"certificate": pemOf(leaf.Raw)})
	wrap := func(key []byte) map[string]string {
		return map[string]string{"token": Token(key, inner), "request": base64.StdEncoding.EncodeToString(inner)}
	}
	wantOK(t, e.post(t, "ocspsign", wrap(keys["ocspsign"].Key)))
	wantError(t, e.post(t, "ocspsign", wrap(keys["gencrl"].Key)), 400, 400, "invalid token")

	key, _ := csr.DefaultKeyRequest().Generate()
	keyPEM, _ := csr.EncodePrivateKey(key)
	inner, _ = json.Marshal(map[string]any{"certificate": pemOf(caWithKey(t, key).Raw), "serialNumber": []string{"1"}, "issuingKey": string(keyPEM)})
	wantOK(t, e.post(t, "gencrl", wrap(keys["gencrl"].Key)))
	wantError(t, e.post(t, "gencrl", wrap(keys["ocspsign"].Key)), 400, 400, "invalid token")
}
