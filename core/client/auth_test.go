package client

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTokenV2Vector is the README's v2 vector (the server's test pins
// the same value).
func TestTokenV2Vector(t *testing.T) {
	key, _ := hex.DecodeString("0123456789ABCDEF0123456789ABCDEF")
	w := WrapV2(key, []byte(`{"profile":"client"}`), time.Unix(1700000000, 0), []byte("0123456789abcdef"))
	b, _ := json.Marshal(w)
	want := `{"pkid_auth":"v2","ts":1700000000,"nonce":"MDEyMzQ1Njc4OWFiY2RlZg==","token":"N0lV0+9JI/NUzqi7T8UviZ8G6L4HLSL0J9mPhb5n9Yc=","request":"eyJwcm9maWxlIjoiY2xpZW50In0="}`
	if string(b) != want {
		t.Errorf("wrapper = %s\nwant %s", b, want)
	}
}

// v2Server answers like a pkid daemon: every reply announces v2; it
// records the requests.
type v2Server struct {
	mu       sync.Mutex
	requests []string
}

func (v *v2Server) start(t *testing.T, status int, body string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		v.mu.Lock()
		v.requests = append(v.requests, r.Method+" "+string(b))
		v.mu.Unlock()
		w.Header().Set(AuthVersionHeader, AuthVersion)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestAuthSignPicksV2(t *testing.T) {
	key, _ := hex.DecodeString("0123456789abcdef0123456789abcdef")
	var v v2Server
	s := v.start(t, 200, okSign)
	c, _ := New(s.URL, nil)
	req := SignRequest{Request: "CSR", Profile: "client"}
	for range 2 {
		if _, err := c.AuthSign(context.Background(), req, key); err != nil {
			t.Fatal(err)
		}
	}
	// One probe per remote, then a v2 wrapper with a fresh nonce each time.
	if len(v.requests) != 3 || v.requests[0] != "HEAD " {
		t.Fatalf("requests %q", v.requests)
	}
	inner, _ := json.Marshal(req)
	nonces := map[string]bool{}
	for _, r := range v.requests[1:] {
		var w AuthRequestV2
		if err := json.Unmarshal([]byte(strings.TrimPrefix(r, "POST ")), &w); err != nil {
			t.Fatal(err)
		}
		nonce, err := base64.StdEncoding.DecodeString(w.Nonce)
		if w.Version != "v2" || err != nil || len(nonce) != NonceSize || w.Request != base64.StdEncoding.EncodeToString(inner) ||
			w.Token != TokenV2(key, w.TS, nonce, inner) || time.Since(time.Unix(w.TS, 0)).Abs() > time.Minute {
			t.Errorf("wrapper %+v", w)
		}
		nonces[w.Nonce] = true
	}
	if len(nonces) != 2 {
		t.Error("nonce reused")
	}
}

// The token format is chosen per remote: a failing pkid remote, then a
// CFSSL one that gets CFSSL's wrapper.
func TestAuthSignFormatPerRemote(t *testing.T) {
	key, _ := hex.DecodeString("0123456789abcdef0123456789abcdef")
	var v v2Server
	down := v.start(t, 503, `{"success":false,"result":null,"errors":[{"code":503,"message":"busy"}],"messages":[]}`)
	var seen []string
	cfssl, _ := envelopeServer(t, 200, okSign, &seen)
	c, _ := New(down.URL+","+cfssl.URL, nil)
	if _, err := c.AuthSign(context.Background(), SignRequest{Request: "CSR"}, key); err != nil {
		t.Fatal(err)
	}
	if len(v.requests) != 2 || !strings.Contains(v.requests[1], `"pkid_auth":"v2"`) {
		t.Errorf("pkid remote saw %q", v.requests)
	}
	if len(seen) != 2 || strings.Contains(seen[1], "pkid_auth") || !strings.Contains(seen[1], `"timestamp":`) {
		t.Errorf("CFSSL remote saw %q", seen)
	}
}
