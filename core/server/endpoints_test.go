package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/sdk"
)

func TestInfoByLabel(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	for _, label := range []string{"", "primary", "secondary"} {
		r := e.post(t, "info", map[string]string{"label": label, "profile": "server"})
		wantOK(t, r)
		want := label
		if want == "" {
			want = "primary"
		}
		var res map[string]any
		if err := json.Unmarshal(r.Result, &res); err != nil {
			t.Fatal(err)
		}
		pemText := res["certificate"].(string)
		if strings.HasSuffix(pemText, "\n") {
			t.Error("info PEM must lack the trailing newline")
		}
		if c := parsePEMCert(t, []byte(pemText)); !c.Equal(e.cas[want]) {
			t.Errorf("label %q: got CA %s", label, c.Subject.CommonName)
		}
		if res["expiry"] != "720h" || fmt.Sprint(res["usages"]) != "[digital signature server auth]" {
			t.Errorf("info = %s", r.Result)
		}
	}
	if r := e.post(t, "info", `{}`); !bytes.Contains(r.Raw, []byte(`"expiry":"8760h"`)) {
		t.Errorf("default profile: %s", r.Raw)
	}
	if r := e.post(t, "info", `{}`); !bytes.HasPrefix(r.Result, []byte(`{"certificate":`)) || !bytes.Contains(r.Result, []byte(`"usages":[`)) {
		t.Errorf("key order: %s", r.Result)
	}
	wantError(t, e.post(t, "info", `{"label":"nope"}`), 400, 400, "bad label")
	wantError(t, e.post(t, "info", `{"profile":"nope"}`), 400, 5400, "Unknown policy profile")
	wantError(t, e.post(t, "info", `{"label":7}`), 400, 400, `"label"`)
}

// checkSum checks s against the DER of pemText.
func checkSum(t *testing.T, s Sum, pemText string) {
	t.Helper()
	b, _ := pem.Decode([]byte(pemText))
	if b == nil {
		t.Fatalf("no PEM: %q", pemText)
	}
	m, h := md5.Sum(b.Bytes), sha256.Sum256(b.Bytes)
	if s.MD5 != strings.ToUpper(hex.EncodeToString(m[:])) || s.SHA256 != strings.ToUpper(hex.EncodeToString(h[:])) || len(s.SHA1) != 40 {
		t.Errorf("sums %+v", s)
	}
}

func TestNewkey(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	r := e.post(t, "newkey", `{"CN":"k.example","hosts":["k.example"],"key":{"algo":"rsa","size":2048}}`)
	wantOK(t, r)
	if !bytes.HasPrefix(r.Result, []byte(`{"private_key":"-----BEGIN RSA PRIVATE KEY-----`)) {
		t.Errorf("result: %.80s", r.Result)
	}
	var res newkeyResult
	if err := json.Unmarshal(r.Result, &res); err != nil {
		t.Fatal(err)
	}
	if _, err := csr.ParsePrivateKey([]byte(res.PrivateKey)); err != nil {
		t.Error(err)
	}
	checkSum(t, res.Sums["certificate_request"], res.CertificateRequest)
	wantError(t, e.post(t, "newkey", `{"CN":"x","key":{"algo":"rsa","size":1024}}`), 400, 2400, "rsa size")
	wantError(t, e.post(t, "newkey", `{"CN":"x","ca":{"pathlen":1}}`), 400, 400, "ca section only permitted in initca")
	wantError(t, e.post(t, "newkey", `{"names":[]}`), 400, 5300, "missing subject information")
	wantError(t, e.post(t, "newkey", `{"CN":["x"]}`), 400, 400, "CN")
}

func TestNewcert(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	r := e.post(t, "newcert", `{"request":{"CN":"n.example","hosts":["n.example","192.0.2.7"]},"profile":"server","label":"secondary"}`)
	wantOK(t, r)
	if len(r.Messages) != 0 {
		t.Errorf("messages: %v", r.Messages)
	}
	var res struct {
		Certificate        string         `json:"certificate"`
		CertificateRequest string         `json:"certificate_request"`
		PrivateKey         string         `json:"private_key"`
		Sums               map[string]Sum `json:"sums"`
	}
	if err := json.Unmarshal(r.Result, &res); err != nil {
		t.Fatal(err)
	}
	c := parsePEMCert(t, []byte(res.Certificate))
	verifies(t, c, e.cas["secondary"])
	key, err := csr.ParsePrivateKey([]byte(res.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if !c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
		t.Error("certificate and key do not match")
	}
	checkSum(t, res.Sums["certificate"], res.Certificate)
	checkSum(t, res.Sums["certificate_request"], res.CertificateRequest)
	if !bytes.HasPrefix(r.Result, []byte(`{"certificate":`)) {
		t.Errorf("keys not alphabetical: %.40s", r.Result)
	}
	// Recorded in the store.
	if _, err := e.store.Get(t.Context(), c.SerialNumber.String(), hex.EncodeToString(c.AuthorityKeyId)); err != nil {
		t.Errorf("not recorded: %v", err)
	}

	r = e.post(t, "newcert", `{"request":{"CN":"n.example"}}`)
	wantOK(t, r)
	if len(r.Messages) != 1 || r.Messages[0].Code != 5300 {
		t.Errorf("no-hosts advisory missing: %s", r.Raw)
	}
	wantError(t, e.post(t, "newcert", `{"profile":"server"}`), 400, 400, "missing request section")
	wantError(t, e.post(t, "newcert", `{"request":{"CN":"x","ca":{}}}`), 400, 400, "ca section only permitted in initca")
	wantError(t, e.post(t, "newcert", `{"request":{"CN":"x"},"profile":"nope"}`), 400, 5400, "Unknown policy profile")
	wantError(t, e.post(t, "newcert", `{"request":{"CN":"x"},"label":"nope"}`), 400, 400, "bad label")
}

func TestInitCA(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	r := e.post(t, "init_ca", `{"CN":"New Root","names":[{"O":"pkid"}],"ca":{"expiry":"24h","pathlen":1},"key":{"algo":"ecdsa","size":384}}`)
	wantOK(t, r)
	var res initCAResult
	if err := json.Unmarshal(r.Result, &res); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(r.Result, []byte(`{"private_key":"-----BEGIN EC PRIVATE KEY-----`)) {
		t.Errorf("result: %.60s", r.Result)
	}
	c := parsePEMCert(t, []byte(res.Certificate))
	if !c.IsCA || c.MaxPathLen != 1 || c.Subject.CommonName != "New Root" || c.NotAfter.Sub(c.NotBefore) != 24*time.Hour {
		t.Errorf("CA cert: %v pathlen %d %v", c.IsCA, c.MaxPathLen, c.NotAfter.Sub(c.NotBefore))
	}
	verifies(t, c, c)
	wantError(t, e.post(t, "init_ca", `{"key":{"algo":"ecdsa","size":256}}`), 400, 5300, "missing subject information")
	wantError(t, e.post(t, "init_ca", `{"CN":"x","key":{"algo":"dsa"}}`), 400, 2400, "dsa")
}

func TestCertinfo(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	r := e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, "ci.example", "ci.example", "192.0.2.9"))})
	wantOK(t, r)
	c := certOf(t, r, "certificate")
	var res map[string]any
	check := func(r *response) {
		t.Helper()
		wantOK(t, r)
		res = nil
		if err := json.Unmarshal(r.Result, &res); err != nil {
			t.Fatal(err)
		}
		if res["serial_number"] != c.SerialNumber.String() || fmt.Sprint(res["sans"]) != "[ci.example 192.0.2.9]" ||
			res["subject"].(map[string]any)["common_name"] != "ci.example" {
			t.Errorf("certinfo = %s", r.Result)
		}
		if !bytes.HasPrefix(r.Result, []byte(`{"subject":{`)) {
			t.Errorf("key order: %.40s", r.Result)
		}
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	check(e.post(t, "certinfo", map[string]string{"certificate": pemText}))
	aki := strings.ToUpper(hex.EncodeToString(c.AuthorityKeyId))
	colons := aki[:2] + ":" + aki[2:4] + ":" + aki[4:] // odd but normalised
	check(e.post(t, "certinfo", map[string]string{"serial": c.SerialNumber.String(), "authority_key_id": colons}))

	wantError(t, e.post(t, "certinfo", map[string]string{"serial": "12345", "authority_key_id": aki}), 400, 11200, "no certificate found")
	wantError(t, e.post(t, "certinfo", map[string]string{"domain": "example.com"}), 403, 403, "disabled")
	wantError(t, e.post(t, "certinfo", `{"certificate":5}`), 400, 400, `"certificate": want string`)
	wantError(t, e.post(t, "certinfo", `{"serial":"1"}`), 400, 400, "no valid parameter sets found")
	wantError(t, e.post(t, "certinfo", `{"certificate":"junk"}`), 400, 1003, "certificate parse failed")
}

func TestRevoke(t *testing.T) {
	var hooked []sdk.RevokeRequest
	e := newEnv(t, plainConfig, func(o *Options) {
		o.OnRevoke = func(_ context.Context, r sdk.RevokeRequest) error { hooked = append(hooked, r); return nil }
	})
	r := e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, "rv.example", "rv.example"))})
	wantOK(t, r)
	c := certOf(t, r, "certificate")
	serial, aki := c.SerialNumber.String(), hex.EncodeToString(c.AuthorityKeyId)
	body := func(reason string) string {
		return `{"serial":"` + serial + `","authority_key_id":"` + strings.ToUpper(aki) + `","reason":"` + reason + `"}`
	}
	wantError(t, e.post(t, "revoke", body("7")), 400, 400, "Invalid reason code")
	wantError(t, e.post(t, "revoke", body("bogus")), 400, 400, "Invalid reason code")
	r = e.post(t, "revoke", body("KeyCompromise"))
	wantOK(t, r)
	if string(r.Result) != "{}" {
		t.Errorf("result = %s", r.Result)
	}
	rec, err := e.store.Get(t.Context(), serial, aki)
	if err != nil || rec.Status != sdk.StatusRevoked || rec.RevocationReason != 1 {
		t.Fatalf("record %+v %v", rec, err)
	}
	wantOK(t, e.post(t, "revoke", body("1"))) // same reason: idempotent
	wantError(t, e.post(t, "revoke", body("superseded")), 409, 409, "already revoked")
	wantError(t, e.post(t, "revoke", `{"serial":"99","authority_key_id":"`+aki+`"}`), 400, 11200, "not found")
	wantError(t, e.post(t, "revoke", `{"authority_key_id":"`+aki+`"}`), 400, 400, "serial number is required but not provided")
	wantError(t, e.post(t, "revoke", `{"serial":`), 400, 400, "Unable to parse revocation request")
	// pkid's label instead of the AKI: the CA is the default "primary".
	r = e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, "rv2.example", "rv2.example"))})
	wantOK(t, r)
	c2 := certOf(t, r, "certificate")
	wantError(t, e.post(t, "revoke", `{"serial":"`+c2.SerialNumber.String()+`","label":"secondary","reason":"1"}`), 400, 11200, "not found")
	wantError(t, e.post(t, "revoke", `{"serial":"`+c2.SerialNumber.String()+`","label":"nope","reason":"1"}`), 400, 400, "unknown CA label")
	wantOK(t, e.post(t, "revoke", `{"serial":"`+c2.SerialNumber.String()+`","label":"primary","reason":"1"}`))
	if rec, err := e.store.Get(t.Context(), c2.SerialNumber.String(), hex.EncodeToString(c2.AuthorityKeyId)); err != nil || rec.Status != sdk.StatusRevoked {
		t.Fatalf("revoke by label: %+v %v", rec, err)
	}
	if len(hooked) != 3 {
		t.Errorf("OnRevoke calls = %d", len(hooked))
	}
	// Without a store, revoke is disabled.
	e2 := newEnv(t, plainConfig, func(o *Options) { o.Store = nil })
	wantError(t, e2.post(t, "revoke", body("1")), 404, 404, "not found")
}

// failingStore fails List.
type failingStore struct{ sdk.CertStore }

func (failingStore) List(context.Context, sdk.ListFilter, func(*sdk.CertRecord) error) error {
	return errors.New("database is locked")
}

func TestHealth(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	r := e.do(t, http.MethodGet, "health", nil)
	wantOK(t, r)
	if string(r.Raw) != `{"success":true,"result":{"healthy":true},"errors":[],"messages":[]}`+"\n" {
		t.Errorf("health: %s", r.Raw)
	}
	e2 := newEnv(t, plainConfig, func(o *Options) { o.Store = failingStore{o.Store} })
	r = e2.do(t, http.MethodGet, "health", nil)
	if r.Status != 503 || r.Success || string(r.Result) != `{"healthy":false,"parts":{"certstore":"failed"}}` || !strings.Contains(r.Errors[0].Message, "store") {
		t.Errorf("unhealthy store: %d %s", r.Status, r.Raw)
	}
	e3 := newEnv(t, plainConfig, func(o *Options) {
		o.HealthChecks = map[string]func(context.Context) error{"keystore": func(context.Context) error { return errors.New("down") }}
	})
	r = e3.do(t, http.MethodGet, "health", nil)
	if r.Status != 503 || !strings.Contains(r.Errors[0].Message, "keystore") {
		t.Errorf("failing check: %d %s", r.Status, r.Raw)
	}
}

func TestLogLine(t *testing.T) {
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true, Level: hclog.Info})
	e := newEnv(t, authConfig, func(o *Options) { o.Logger = log })
	inner := []byte(`{"certificate_request":` + jsonString(string(makeCSR(t, "l.example", "l.example"))) + `,"profile":"server","label":"secondary"}`)
	w := wrap(t, testAuthKeyHex, inner)
	wantOK(t, e.post(t, "authsign", w))
	out := buf.String()
	for _, want := range []string{`"endpoint":"authsign"`, `"label":"secondary"`, `"profile":"server"`, `"status":200`, `"method":"POST"`, `"remote":`, `"duration":`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
	for _, secret := range []string{w["token"].(string), w["request"].(string), "BEGIN CERTIFICATE REQUEST", testAuthKeyHex} {
		if strings.Contains(out, secret) {
			t.Errorf("log leaks %.20s", secret)
		}
	}
}
