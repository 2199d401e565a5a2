package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/client"
)

// newNonce returns 16 random bytes.
func newNonce(t testing.TB) []byte {
	n := make([]byte, 16)
	if _, err := rand.Read(n); err != nil {
		t.Fatal(err)
	}
	return n
}

// wrapV2 builds a pkid_auth v2 wrapper for inner under hex key.
func wrapV2(t *testing.T, keyHex string, inner []byte, ts int64, nonce []byte) map[string]any {
	t.Helper()
	key, err := hex.DecodeString(keyHex)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"pkid_auth": "v2", "ts": ts, "nonce": base64.StdEncoding.EncodeToString(nonce),
		"token": TokenV2(key, ts, nonce, inner), "request": base64.StdEncoding.EncodeToString(inner),
	}
}

// TestTokenV2Vector pins the v2 signed material so other clients can
// check their implementation (README "Replay-resistant tokens").
func TestTokenV2Vector(t *testing.T) {
	key, _ := hex.DecodeString("0123456789ABCDEF0123456789ABCDEF")
	nonce := []byte("0123456789abcdef")
	r := []byte(`{"profile":"client"}`)
	m := append([]byte("pkid-auth-v2\x00\x00\x00\x00\x00\x65\x53\xf1\x00\x10"), nonce...)
	m = append(m, r...)
	if got, want := TokenV2(key, 1700000000, nonce, r), Token(key, m); got != want {
		t.Fatalf("TokenV2 = %s, want HMAC of the documented M %s", got, want)
	}
	const want = "N0lV0+9JI/NUzqi7T8UviZ8G6L4HLSL0J9mPhb5n9Yc="
	if got := TokenV2(key, 1700000000, nonce, r); got != want {
		t.Errorf("TokenV2 = %s, want %s", got, want)
	}
}

func TestAuthV2(t *testing.T) {
	e := newEnv(t, authConfig, nil)
	csrPEM := string(makeCSR(t, "a.example", "a.example"))
	signInner, _ := json.Marshal(map[string]any{"certificate_request": csrPEM, "profile": "server"})
	newcertInner, _ := json.Marshal(map[string]any{"request": map[string]any{"CN": "n.example", "hosts": []string{"n.example"}}, "profile": "server"})
	now := time.Now().Unix()

	for _, endpoint := range []string{"authsign", "sign", "newcert"} {
		inner := signInner
		if endpoint == "newcert" {
			inner = newcertInner
		}
		t.Run(endpoint, func(t *testing.T) {
			w := wrapV2(t, testAuthKeyHex, inner, now, newNonce(t))
			r := e.post(t, endpoint, w)
			wantOK(t, r)
			if got := r.Header.Get(AuthVersionHeader); got != AuthVersion {
				t.Errorf("%s header %q, want %q", AuthVersionHeader, got, AuthVersion)
			}
			// The same token again is a replay; a fresh nonce is fine.
			wantError(t, e.post(t, endpoint, w), 400, 400, "replayed")
			wantOK(t, e.post(t, endpoint, wrapV2(t, testAuthKeyHex, inner, now, newNonce(t))))
		})
	}

	tampered := func(field string, v any) map[string]any {
		w := wrapV2(t, testAuthKeyHex, signInner, now, newNonce(t))
		w[field] = v
		return w
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"stale", wrapV2(t, testAuthKeyHex, signInner, now-int64(replayWindow/time.Second)-60, newNonce(t)), "stale"},
		{"future", wrapV2(t, testAuthKeyHex, signInner, now+int64(replayWindow/time.Second)+60, newNonce(t)), "future"},
		{"far past", wrapV2(t, testAuthKeyHex, signInner, math.MinInt64, newNonce(t)), "stale"},
		{"far future", wrapV2(t, testAuthKeyHex, signInner, math.MaxInt64, newNonce(t)), "future"},
		{"tampered ts", tampered("ts", now+1), "invalid token"},
		{"tampered nonce", tampered("nonce", base64.StdEncoding.EncodeToString(newNonce(t))), "invalid token"},
		{"tampered request", tampered("request", base64.StdEncoding.EncodeToString(append(signInner, ' '))), "invalid token"},
		{"wrong key", wrapV2(t, "aabbccdd", signInner, now, newNonce(t)), "invalid token"},
		{"no ts", tampered("ts", nil), "ts: want an integer"},
		{"fractional ts", tampered("ts", 1.5), "ts: want an integer"},
		{"short nonce", tampered("nonce", base64.StdEncoding.EncodeToString([]byte("short"))), "nonce: want 16 to 64"},
		{"nonce not base64", tampered("nonce", "%%%"), "nonce: want 16 to 64"},
		{"unknown version", tampered("pkid_auth", "v3"), `unsupported pkid_auth version "v3"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.post(t, "authsign", tc.body), 400, 400, tc.want)
		})
	}

	t.Run("profile requires v2", func(t *testing.T) {
		p, err := e.set.CAs["primary"].Profiles().Lookup("server")
		if err != nil {
			t.Fatal(err)
		}
		p.AuthReplayProtection = true
		t.Cleanup(func() { p.AuthReplayProtection = false })
		for _, endpoint := range []string{"authsign", "sign"} {
			wantError(t, e.post(t, endpoint, wrap(t, testAuthKeyHex, signInner)), 400, 400, "requires the replay-resistant token format")
			wantOK(t, e.post(t, endpoint, wrapV2(t, testAuthKeyHex, signInner, now, newNonce(t))))
		}
		wantError(t, e.post(t, "newcert", wrap(t, testAuthKeyHex, newcertInner)), 400, 400, "requires the replay-resistant token format")
		// Other profiles still take CFSSL's format.
		defaultInner, _ := json.Marshal(map[string]any{"certificate_request": csrPEM})
		wantOK(t, e.post(t, "authsign", wrap(t, testAuthKeyHex, defaultInner)))
	})

	t.Run("announced on errors too", func(t *testing.T) {
		r := e.do(t, http.MethodGet, "nope", nil)
		if r.Status != 404 || r.Header.Get(AuthVersionHeader) != AuthVersion {
			t.Errorf("404: status %d header %q", r.Status, r.Header.Get(AuthVersionHeader))
		}
	})

	t.Run("cache full", func(t *testing.T) {
		e := newEnv(t, authConfig, func(o *Options) { o.nonces = newNonceCache(1) })
		wantOK(t, e.post(t, "authsign", wrapV2(t, testAuthKeyHex, signInner, now, newNonce(t))))
		wantError(t, e.post(t, "authsign", wrapV2(t, testAuthKeyHex, signInner, now, newNonce(t))), 503, 503, "try again later")
		// CFSSL tokens do not use the cache.
		defaultInner, _ := json.Marshal(map[string]any{"certificate_request": csrPEM})
		wantOK(t, e.post(t, "authsign", wrap(t, testAuthKeyHex, defaultInner)))
	})
}

// A replayed token is refused on the non-issuing token endpoints too.
func TestAuthV2Revoke(t *testing.T) {
	e := newEnv(t, authConfig, func(o *Options) {
		o.AuthKeys = map[string]profile.AuthKey{"revoke": {Type: "standard", Key: mustHex(t, testPrevKeyHex)}}
	})
	inner := []byte(`{"serial":"12345","authority_key_id":"aabb","reason":"keyCompromise"}`)
	w := wrapV2(t, testPrevKeyHex, inner, time.Now().Unix(), newNonce(t))
	if r := e.post(t, "revoke", w); strings.Contains(string(r.Raw), "token") {
		t.Fatalf("first revoke refused the token: %d %s", r.Status, r.Raw)
	}
	wantError(t, e.post(t, "revoke", w), 400, 400, "replayed")
}

func TestNonceCache(t *testing.T) {
	id := func(i int) (b [32]byte) { copy(b[:], fmt.Sprint(i)); return b }
	c := newNonceCache(3)
	for i := range 3 {
		if err := c.add(id(i), int64(100+i), 50); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	if err := c.add(id(1), 200, 50); !errors.Is(err, errReplay) {
		t.Errorf("replay: %v", err)
	}
	// Full: a new id is refused while every entry is still in its window.
	if err := c.add(id(3), 200, 100); !errors.Is(err, errNonceCacheFull) {
		t.Errorf("full: %v", err)
	}
	if c.len() != 3 {
		t.Errorf("len %d after refusal", c.len())
	}
	// At 101, id 0 (expiry 100) is forgotten and id 3 fits; id 1 is still
	// remembered (expiry 101 is inclusive).
	if err := c.add(id(3), 200, 101); err != nil {
		t.Errorf("after expiry: %v", err)
	}
	if err := c.add(id(1), 200, 101); !errors.Is(err, errReplay) {
		t.Errorf("id 1 at its expiry: %v", err)
	}
	if err := c.add(id(4), 300, 1000); err != nil || c.len() != 1 {
		t.Errorf("all expired: %v, len %d", err, c.len())
	}
}

// Concurrent presentations of one token: exactly one wins (run with -race).
func TestNonceCacheConcurrent(t *testing.T) {
	c := newNonceCache(1000)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				var id [32]byte
				id[0], id[1] = byte(i), byte(g%2) // two goroutines share each id
				if c.add(id, 10, 1) == nil {
					wins.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := wins.Load(); got != 100 {
		t.Errorf("%d adds won, want 100 (one per distinct id)", got)
	}
}

// pkid's client sends v2 to a pkid daemon: a profile that requires it
// signs through client.AuthSign.
func TestClientPicksV2(t *testing.T) {
	e := newEnv(t, authConfig, nil)
	p, err := e.set.CAs["primary"].Profiles().Lookup("server")
	if err != nil {
		t.Fatal(err)
	}
	p.AuthReplayProtection = true
	c, err := client.New(e.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := client.SignRequest{Request: string(makeCSR(t, "a.example", "a.example")), Profile: "server"}
	pemCert, err := c.AuthSign(context.Background(), req, mustHex(t, testAuthKeyHex))
	if err != nil {
		t.Fatal(err)
	}
	verifies(t, parsePEMCert(t, []byte(pemCert)), e.cas["primary"])
}

// A CFSSL token is never read as a v2 credential, even one that starts
// like the v2 header.
func TestCFSSLTokenNotV2(t *testing.T) {
	tok := make([]byte, 32)
	copy(tok, v2Domain)
	tok[v2HeadBase-1] = 0
	err := verifyToken(tok, []byte("{}"), keyring{keys: [][]byte{[]byte("k")}, replayProtection: true}, newNonceCache(1), time.Now())
	if err == nil || !strings.Contains(err.Error(), "requires the replay-resistant") {
		t.Errorf("32-byte token with a v2 prefix: %v", err)
	}
}
