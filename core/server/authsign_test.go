package server

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/pkid/pkid/core/ca/profile"
	"time"
)

func TestTokenVector(t *testing.T) {
	key := []byte("0123456789ABCDEF0123456789ABCDEF")
	key, err := hex.DecodeString(string(key))
	if err != nil {
		t.Fatal(err)
	}
	r := []byte(`{"profile":"client"}`)
	const wantToken = "a+iOI0KAI7MVdGbWkHPaF70Eyv+8Gp6O6EoIElxG92U="
	if got := Token(key, r); got != wantToken {
		t.Errorf("token = %s, want %s", got, wantToken)
	}
	mac, _ := base64.StdEncoding.DecodeString(wantToken)
	if got := hex.EncodeToString(mac); got != "6be88e23428023b3157466d69073da17bd04caffbc1a9e8ee84a08125c46f765" {
		t.Errorf("hmac = %s", got)
	}
	if got := base64.StdEncoding.EncodeToString(r); got != "eyJwcm9maWxlIjoiY2xpZW50In0=" {
		t.Errorf("request = %s", got)
	}
	if !validToken(mac, r, []byte("other"), key) || validToken(mac[:31], r, key) || validToken(mac, append(r, ' '), key) {
		t.Error("validToken")
	}
}

// wrap builds the authsign wrapper for inner under hex key.
func wrap(t *testing.T, keyHex string, inner []byte) map[string]any {
	t.Helper()
	key, err := hex.DecodeString(keyHex)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"timestamp": time.Now().Unix(), "token": Token(key, inner), "request": base64.StdEncoding.EncodeToString(inner)}
}

func TestAuthsign(t *testing.T) {
	e := newEnv(t, authConfig, nil)
	inner, _ := json.Marshal(map[string]any{
		"certificate_request": string(makeCSR(t, "a.example", "a.example")), "hosts": []string{"b.example"},
		"profile": "", "label": "", "NotBefore": "0001-01-01T00:00:00Z", "NotAfter": "0001-01-01T00:00:00Z", "metadata": nil,
	})
	r := e.post(t, "authsign", wrap(t, testAuthKeyHex, inner))
	wantOK(t, r)
	c := certOf(t, r, "certificate")
	verifies(t, c, e.cas["primary"])
	if c.DNSNames[0] != "b.example" {
		t.Errorf("SANs = %v", c.DNSNames)
	}

	// prev_auth_key still accepted on the default profile (rotation).
	wantOK(t, e.post(t, "authsign", wrap(t, testPrevKeyHex, inner)))

	// The server profile has no prev_auth_key.
	innerServer, _ := json.Marshal(map[string]any{"certificate_request": string(makeCSR(t, "a.example", "a.example")), "profile": "server"})
	wantOK(t, e.post(t, "authsign", wrap(t, testAuthKeyHex, innerServer)))
	wantError(t, e.post(t, "authsign", wrap(t, testPrevKeyHex, innerServer)), 400, 400, "invalid token")

	// Wrong key, tampered request, missing token.
	wantError(t, e.post(t, "authsign", wrap(t, "aabbccdd", inner)), 400, 400, "invalid token")
	w := wrap(t, testAuthKeyHex, inner)
	w["request"] = base64.StdEncoding.EncodeToString(append(inner, ' '))
	wantError(t, e.post(t, "authsign", w), 400, 400, "invalid token")
	delete(w, "token")
	wantError(t, e.post(t, "authsign", w), 400, 400, "invalid token")
	wantError(t, e.post(t, "authsign", map[string]any{"token": "%%%", "request": "e30="}), 400, 400, "token")

	// Check order: inner JSON, profile, then the certificate request.
	wantError(t, e.post(t, "authsign", wrap(t, testAuthKeyHex, []byte("{"))), 400, 400, "Unable to parse authenticated sign request")
	wantError(t, e.post(t, "authsign", wrap(t, testAuthKeyHex, []byte(`{"profile":"nope"}`))), 400, 5400, "Unknown policy profile")
	wantError(t, e.post(t, "authsign", wrap(t, testAuthKeyHex, []byte(`{"profile":"server"}`))), 400, 400, "missing parameter 'certificate_request'")
	wantError(t, e.post(t, "authsign", `not json`), 400, 400, "invalid JSON")
}

func TestAuthsignNoProvider(t *testing.T) {
	// A profile without auth_key on a config where others have one.
	cfg := `{"signing":{"default":{"usages":["digital signature"],"expiry":"1h"},
	  "profiles":{"a":{"usages":["digital signature","server auth"],"expiry":"1h","auth_key":"k"}}},
	  "auth_keys":{"k":{"type":"standard","key":"` + testAuthKeyHex + `"}}}`
	e := newEnv(t, cfg, nil)
	inner := []byte(`{"certificate_request":"x"}`)
	wantError(t, e.post(t, "authsign", wrap(t, testAuthKeyHex, inner)), 400, 400, "no authentication provider")
}

func TestAuthsignExtensionsValidityMetadata(t *testing.T) {
	e := newEnv(t, authConfig, nil)
	nb := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	na := nb.Add(48 * time.Hour)
	inner, _ := json.Marshal(map[string]any{
		"certificate_request": string(makeCSR(t, "a.example", "a.example")), "profile": "ext",
		"extensions": []map[string]any{{"id": "1.2.3.4", "critical": false, "value": "0500"}},
		"NotBefore":  nb, "NotAfter": na, "metadata": map[string]string{"ticket": "T-1"},
	})
	r := e.post(t, "authsign", wrap(t, testAuthKeyHex, inner))
	wantOK(t, r)
	c := certOf(t, r, "certificate")
	if !c.NotBefore.Equal(nb) || !c.NotAfter.Equal(na) {
		t.Errorf("validity %v–%v, want %v–%v", c.NotBefore, c.NotAfter, nb, na)
	}
	found := false
	for _, x := range c.Extensions {
		found = found || x.Id.String() == "1.2.3.4"
	}
	if !found {
		t.Error("extension 1.2.3.4 missing")
	}
	rec, err := e.store.Get(t.Context(), c.SerialNumber.String(), hex.EncodeToString(c.AuthorityKeyId))
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.Metadata) != `{"ticket":"T-1"}` {
		t.Errorf("metadata = %s", rec.Metadata)
	}
	// An extension outside allowed_extensions is refused.
	inner, _ = json.Marshal(map[string]any{
		"certificate_request": string(makeCSR(t, "a.example", "a.example")), "profile": "ext",
		"extensions": []map[string]any{{"id": "1.2.3.5", "value": "0500"}},
	})
	if r := e.post(t, "authsign", wrap(t, testAuthKeyHex, inner)); r.Success || r.Status != 400 {
		t.Errorf("disallowed extension: %s", r.Raw)
	}
}

// TestDD1 checks that sign, newcert and revoke need authentication once
// auth keys exist, and accept the token wrapper.
func TestDD1(t *testing.T) {
	e := newEnv(t, authConfig, nil)
	signBody, _ := json.Marshal(map[string]any{"certificate_request": string(makeCSR(t, "a.example", "a.example")), "profile": "server"})
	wantError(t, e.post(t, "sign", signBody), 400, 400, "authentication required")
	r := e.post(t, "sign", wrap(t, testAuthKeyHex, signBody))
	wantOK(t, r)
	c := certOf(t, r, "certificate")
	wantError(t, e.post(t, "sign", wrap(t, testPrevKeyHex, signBody)), 400, 400, "invalid token")

	newcert := []byte(`{"request":{"CN":"n.example","hosts":["n.example"]},"profile":"server"}`)
	wantError(t, e.post(t, "newcert", newcert), 400, 400, "authentication required")
	wantOK(t, e.post(t, "newcert", wrap(t, testAuthKeyHex, newcert)))

	revoke := []byte(`{"serial":"` + c.SerialNumber.String() + `","authority_key_id":"` + hex.EncodeToString(c.AuthorityKeyId) + `","reason":"superseded"}`)
	wantError(t, e.post(t, "revoke", revoke), 400, 400, "authentication required")
	wantError(t, e.post(t, "revoke", wrap(t, testAuthKeyHex, revoke)), 400, 400, "no authentication provider")

	// With a "revoke" key configured.
	e2 := newEnv(t, authConfig, func(o *Options) {
		o.AuthKeys = map[string]profile.AuthKey{"revoke": {Type: "standard", Key: mustHex(t, "0badc0de")}}
	})
	r = e2.post(t, "sign", wrap(t, testAuthKeyHex, signBody))
	wantOK(t, r)
	c = certOf(t, r, "certificate")
	revoke = []byte(`{"serial":"` + c.SerialNumber.String() + `","authority_key_id":"` + hex.EncodeToString(c.AuthorityKeyId) + `","reason":"superseded"}`)
	wantError(t, e2.post(t, "revoke", wrap(t, testAuthKeyHex, revoke)), 400, 400, "invalid token")
	wantOK(t, e2.post(t, "revoke", wrap(t, "0badc0de", revoke)))
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
