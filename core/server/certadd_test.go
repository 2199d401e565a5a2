package server

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/sdk"
	"golang.org/x/crypto/ocsp"
)

// certaddEnv is a server with certadd enabled whose "primary" CA key also
// signs outside it (elsewhere: an issuer with no store, as CFSSL or an
// offline pkid would), so the test has certificates the daemon never saw.
func certaddEnv(t *testing.T, cfg string, mod func(*Options)) (*testEnv, *ca.Issuer) {
	t.Helper()
	var elsewhere *ca.Issuer
	e := newEnv(t, cfg, func(o *Options) {
		o.Enabled = append(o.Enabled, "certadd")
		key, err := csr.DefaultKeyRequest().Generate()
		if err != nil {
			t.Fatal(err)
		}
		root, _, err := ca.InitCA(context.Background(), ca.InitCARequest{
			Request: &csr.Request{CN: "certadd CA", KeyRequest: csr.DefaultKeyRequest()}, Signer: key,
		})
		if err != nil {
			t.Fatal(err)
		}
		p, err := profile.ParseCFSSL([]byte(plainConfig))
		if err != nil {
			t.Fatal(err)
		}
		in, err := ca.NewIssuer(ca.IssuerConfig{Label: "primary", Certificate: root.Cert, Signer: key, Profiles: p, Store: o.Store.(sdk.CertStore)})
		if err != nil {
			t.Fatal(err)
		}
		o.CAs.CAs["primary"] = in
		if elsewhere, err = ca.NewIssuer(ca.IssuerConfig{Label: "x", Certificate: root.Cert, Signer: key, Profiles: p}); err != nil {
			t.Fatal(err)
		}
		if mod != nil {
			mod(o)
		}
	})
	return e, elsewhere
}

func issueElsewhere(t *testing.T, iss *ca.Issuer, cn string) *ca.Certificate {
	t.Helper()
	c, err := iss.Sign(t.Context(), ca.SignRequest{CSR: makeCSR(t, cn, cn)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func certaddRequest(c *ca.Certificate) map[string]any {
	return map[string]any{
		"serial_number":            c.Cert.SerialNumber.String(),
		"authority_key_identifier": hex.EncodeToString(c.Cert.AuthorityKeyId),
		"status":                   "good",
		"expiry":                   c.Cert.NotAfter.Format(time.RFC3339),
		"pem":                      pemOf(c.DER),
	}
}

// certadd records a certificate issued elsewhere by a configured CA's key
// and answers with an OCSP response for the recorded status; a revoked
// one is on record as revoked (and its response says so).
func TestCertadd(t *testing.T) {
	e, elsewhere := certaddEnv(t, plainConfig, nil)
	issuer := e.set.CAs["primary"].Certificate()

	good := issueElsewhere(t, elsewhere, "good.example")
	r := e.post(t, "certadd", certaddRequest(good))
	wantOK(t, r)
	var res map[string]string
	if err := json.Unmarshal(r.Result, &res); err != nil {
		t.Fatal(err)
	}
	der, err := base64.StdEncoding.DecodeString(res["ocsp_response"])
	if err != nil {
		t.Fatalf("ocsp_response: %v (%s)", err, r.Raw)
	}
	resp, err := ocsp.ParseResponseForCert(der, good.Cert, issuer)
	if err != nil || resp.Status != ocsp.Good {
		t.Fatalf("OCSP response %+v %v", resp, err)
	}
	rec, err := e.store.Get(t.Context(), good.Cert.SerialNumber.String(), hex.EncodeToString(good.Cert.AuthorityKeyId))
	if err != nil || rec.Status != sdk.StatusGood || rec.IssuerLabel != "primary" || string(rec.DER) != string(good.DER) {
		t.Fatalf("record %+v %v", rec, err)
	}
	// The same record again is idempotent; another status for it is a
	// conflict, not a silent no-op.
	wantOK(t, e.post(t, "certadd", certaddRequest(good)))
	flip := certaddRequest(good)
	flip["status"], flip["revoked_at"] = "revoked", "2026-01-02T03:04:05Z"
	wantError(t, e.post(t, "certadd", flip), http.StatusConflict, http.StatusConflict, "already recorded as good")

	revoked := issueElsewhere(t, elsewhere, "revoked.example")
	req := certaddRequest(revoked)
	req["status"], req["reason"], req["revoked_at"] = "revoked", 1, "2026-01-02T03:04:05Z"
	r = e.post(t, "certadd", req)
	wantOK(t, r)
	res = nil
	json.Unmarshal(r.Result, &res)
	der, _ = base64.StdEncoding.DecodeString(res["ocsp_response"])
	resp, err = ocsp.ParseResponseForCert(der, revoked.Cert, issuer)
	if err != nil || resp.Status != ocsp.Revoked || resp.RevocationReason != 1 {
		t.Fatalf("OCSP response %+v %v", resp, err)
	}
	rec, err = e.store.Get(t.Context(), revoked.Cert.SerialNumber.String(), hex.EncodeToString(revoked.Cert.AuthorityKeyId))
	if err != nil || rec.Status != sdk.StatusRevoked || rec.RevocationReason != 1 || !rec.RevokedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("record %+v %v", rec, err)
	}
}

// Hostile certadd requests: each a 400 (or 404/405) with one error, and
// nothing recorded.
func TestCertaddHostile(t *testing.T) {
	e, elsewhere := certaddEnv(t, plainConfig, nil)
	c := issueElsewhere(t, elsewhere, "h.example")
	_, other := certaddEnv(t, plainConfig, nil) // a CA this server does not have
	foreign := issueElsewhere(t, other, "f.example")
	with := func(k string, v any) map[string]any { r := certaddRequest(c); r[k] = v; return r }
	without := func(k string) map[string]any { r := certaddRequest(c); delete(r, k); return r }
	tests := []struct {
		name string
		body any
		want string
	}{
		{"not json", "{", "Unable to parse"},
		{"array", "[]", "Unable to parse"},
		{"wrong type", with("reason", "one"), "Unable to parse"},
		{"no pem", without("pem"), "missing parameter 'pem'"},
		{"garbage pem", with("pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "malformed certificate"},
		{"two pems", with("pem", pemOf(c.DER)+pemOf(c.DER)), "exactly one"},
		{"no serial", without("serial_number"), "missing parameter 'serial_number'"},
		{"other serial", with("serial_number", "12345"), "serial_number does not match"},
		{"hex serial", with("serial_number", "0x1f"), "serial_number does not match"},
		{"no aki", without("authority_key_identifier"), "missing parameter 'authority_key_identifier'"},
		{"other aki", with("authority_key_identifier", "abcdef"), "authority_key_identifier does not match"},
		{"other expiry", with("expiry", "2030-01-01T00:00:00Z"), "expiry does not match"},
		{"bad status", with("status", "unknown"), "invalid status"},
		{"bad reason", func() map[string]any {
			r := with("status", "revoked")
			r["reason"] = 11
			r["revoked_at"] = "2026-01-01T00:00:00Z"
			return r
		}(), "Invalid reason code"},
		{"revoked without time", with("status", "revoked"), "revoked_at"},
		{"unknown label", with("ca_label", "nope"), "bad label"},
		{"bad metadata", with("metadata", json.RawMessage(`"x"`)), ""},
		{"foreign CA", certaddRequest(foreign), "no configured CA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, "certadd", tc.body)
			if tc.name == "bad metadata" { // a JSON string is valid metadata
				wantOK(t, r)
				return
			}
			wantError(t, r, http.StatusBadRequest, http.StatusBadRequest, tc.want)
		})
	}
	if r := e.do(t, http.MethodGet, "certadd", nil); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d %s", r.Status, r.Raw)
	}
	n := 0
	if err := e.store.List(t.Context(), sdk.ListFilter{}, func(*sdk.CertRecord) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("records after hostile requests: %d %v (want the one with valid metadata)", n, err)
	}
}

// certadd is off unless enabled, and with authentication configured it
// wants it: a bare request is refused, a token wrapper under the
// "certadd" key passes.
func TestCertaddEnablementAndAuth(t *testing.T) {
	off := newEnv(t, plainConfig, nil)
	if r := off.post(t, "certadd", "{}"); r.Status != http.StatusNotFound {
		t.Fatalf("certadd enabled by default: %d %s", r.Status, r.Raw)
	}
	key := []byte("certadd key 0123456789")
	e, elsewhere := certaddEnv(t, authConfig, func(o *Options) {
		o.AuthKeys = map[string]profile.AuthKey{"certadd": {Type: "standard", Key: key}}
	})
	c := issueElsewhere(t, elsewhere, "auth.example")
	inner, _ := json.Marshal(certaddRequest(c))
	wantError(t, e.post(t, "certadd", inner), http.StatusBadRequest, http.StatusBadRequest, "authentication required")
	wrap := func(k []byte) map[string]string {
		return map[string]string{"token": Token(k, inner), "request": base64.StdEncoding.EncodeToString(inner)}
	}
	if r := e.post(t, "certadd", wrap([]byte("not the key at all"))); r.Success || r.Status/100 != 4 {
		t.Fatalf("wrong token: %d %s", r.Status, r.Raw)
	}
	wantOK(t, e.post(t, "certadd", wrap(key)))
}

// A client_cert_policy entry for certadd is accepted and guards it: a
// caller without a verified client certificate is refused.
func TestCertaddClientCertPolicy(t *testing.T) {
	e, elsewhere := certaddEnv(t, plainConfig, func(o *Options) {
		o.ClientCertPolicy = map[string][]string{"certadd": {"^importer$"}}
	})
	c := issueElsewhere(t, elsewhere, "policy.example")
	r := e.post(t, "certadd", certaddRequest(c))
	if r.Success || r.Status/100 != 4 {
		t.Fatalf("certadd without a client certificate: %d %s", r.Status, r.Raw)
	}
}
