package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRemoteTokenVector checks the authsign token against a fixed vector (key, inner bytes, HMAC).
func TestRemoteTokenVector(t *testing.T) {
	key, _ := hex.DecodeString("0123456789ABCDEF0123456789ABCDEF")
	r := []byte(`{"profile":"client"}`)
	m := hmac.New(sha256.New, key)
	m.Write(r)
	if got := hex.EncodeToString(m.Sum(nil)); got != "6be88e23428023b3157466d69073da17bd04caffbc1a9e8ee84a08125c46f765" {
		t.Fatalf("hmac = %s", got)
	}
	w := Wrap(key, r, time.Unix(1700000000, 0))
	if w.Token != "a+iOI0KAI7MVdGbWkHPaF70Eyv+8Gp6O6EoIElxG92U=" {
		t.Errorf("token = %s", w.Token)
	}
	if w.Request != "eyJwcm9maWxlIjoiY2xpZW50In0=" {
		t.Errorf("request = %s", w.Request)
	}
	b, _ := json.Marshal(w)
	want := `{"timestamp":1700000000,"token":"a+iOI0KAI7MVdGbWkHPaF70Eyv+8Gp6O6EoIElxG92U=","request":"eyJwcm9maWxlIjoiY2xpZW50In0="}`
	if string(b) != want {
		t.Errorf("wrapper = %s\nwant %s", b, want)
	}
}

// TestRemoteSignRequestJSON checks the inner document matches what CFSSL's
// client sends (captured from cfssl sign -remote).
func TestRemoteSignRequestJSON(t *testing.T) {
	b, err := json.Marshal(SignRequest{Request: "CSR", Profile: "p", Label: "l"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"hosts":null,"certificate_request":"CSR","profile":"p","crl_override":"","label":"l","NotBefore":"0001-01-01T00:00:00Z","NotAfter":"0001-01-01T00:00:00Z","ReturnPrecert":false,"metadata":null}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(SignRequest{Hosts: []string{"a"}, Subject: &Subject{CN: "x"}})
	if !strings.HasPrefix(string(b), `{"hosts":["a"],"certificate_request":"","subject":{"CN":"x","names":null,"SerialNumber":""},"profile"`) {
		t.Errorf("with subject: %s", b)
	}
}

func TestRemoteParse(t *testing.T) {
	for in, want := range map[string]string{
		"ca.example":               "http://ca.example:8888",
		"ca.example:9000":          "http://ca.example:9000",
		"127.0.0.1":                "http://127.0.0.1:8888",
		"::1":                      "http://[::1]:8888",
		"[::1]:9":                  "http://[::1]:9",
		"http://ca.example:1":      "http://ca.example:1",
		"https://ca.example":       "https://ca.example",
		"https://ca.example:8443/": "https://ca.example:8443",
	} {
		u, err := parseRemote(in)
		if err != nil || u.String() != want {
			t.Errorf("parseRemote(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, in := range []string{"ftp://x", "http://", "http://x/api", "http://u@x", "x:99999", "http://x:abc"} {
		if u, err := parseRemote(in); err == nil {
			t.Errorf("parseRemote(%q) = %v, want an error", in, u)
		}
	}
	c, err := New(" a:1, https://b ,", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Remotes(), " "); got != "http://a:1 https://b" {
		t.Errorf("remotes = %s", got)
	}
	if _, err := New(" , ", nil); err == nil {
		t.Error("empty remote list accepted")
	}
}

// envelopeServer answers every request with status and body and counts
// the requests.
func envelopeServer(t *testing.T, status int, body string, seen *[]string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, _ := io.ReadAll(r.Body)
		if seen != nil {
			*seen = append(*seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+string(b))
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

const okSign = `{"success":true,"result":{"certificate":"-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n"},"errors":[],"messages":[]}`

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestRemoteFailover(t *testing.T) {
	var seen []string
	live, _ := envelopeServer(t, 200, okSign, &seen)
	c, err := New(closedAddr(t)+","+live.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.Sign(context.Background(), SignRequest{Request: "CSR", Profile: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cert, "BEGIN CERTIFICATE") {
		t.Errorf("cert = %q", cert)
	}
	if len(seen) != 1 || !strings.HasPrefix(seen[0], "POST /api/v1/cfssl/sign application/json {\"hosts\":null,\"certificate_request\":\"CSR\"") {
		t.Errorf("second remote saw %q", seen)
	}

	// 5xx fails over too.
	down, downN := envelopeServer(t, 503, `{"success":false,"result":null,"errors":[{"code":11000,"message":"store down"}],"messages":[]}`, nil)
	c, _ = New(down.URL+","+live.URL, nil)
	if _, err := c.Sign(context.Background(), SignRequest{Request: "CSR"}); err != nil || downN.Load() != 1 {
		t.Errorf("5xx failover: %v (first remote hit %d times)", err, downN.Load())
	}

	// All remotes down: the last error, code 7300.
	c, _ = New(closedAddr(t)+","+closedAddr(t), nil)
	_, err = c.Sign(context.Background(), SignRequest{Request: "CSR"})
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != CodeIO {
		t.Errorf("all down: %v", err)
	}
}

func TestRemoteNoFailoverOn4xx(t *testing.T) {
	bad, _ := envelopeServer(t, 400, `{"success":false,"result":null,"errors":[{"code":5400,"message":"Unknown policy profile"}],"messages":[]}`, nil)
	live, liveN := envelopeServer(t, 200, okSign, nil)
	c, _ := New(bad.URL+","+live.URL, nil)
	_, err := c.Sign(context.Background(), SignRequest{Request: "CSR", Profile: "nope"})
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != CodeBadStatus || ce.Status != 400 || ce.RemoteCode != 5400 || ce.Message != "Unknown policy profile" {
		t.Fatalf("err = %#v", err)
	}
	if liveN.Load() != 0 {
		t.Error("failed over on a 4xx reply")
	}
	if !strings.Contains(err.Error(), "7400") || !strings.Contains(err.Error(), "Unknown policy profile") {
		t.Errorf("message: %v", err)
	}

	// success:false with 200 → 7500, no failover either.
	f, _ := envelopeServer(t, 200, `{"success":false,"result":null,"errors":[{"code":1234,"message":"nope"}],"messages":[]}`, nil)
	c, _ = New(f.URL+","+live.URL, nil)
	_, err = c.Sign(context.Background(), SignRequest{Request: "CSR"})
	if !errors.As(err, &ce) || ce.Code != CodeRemoteError || ce.RemoteCode != 1234 || ce.Message != "nope" || liveN.Load() != 0 {
		t.Errorf("success:false: %v", err)
	}

	// A non-envelope error body is reported as is.
	p, _ := envelopeServer(t, 404, "404 page not found\n", nil)
	c, _ = New(p.URL, nil)
	_, err = c.Info(context.Background(), "", "")
	if !errors.As(err, &ce) || ce.Code != CodeBadStatus || ce.Message != "404 page not found" {
		t.Errorf("plain 404: %v", err)
	}
}

func TestRemoteAuthSignAndInfo(t *testing.T) {
	key, _ := hex.DecodeString("0123456789abcdef0123456789abcdef")
	var seen []string
	s, _ := envelopeServer(t, 200, okSign, &seen)
	c, _ := New(s.URL, nil)
	c.now = func() time.Time { return time.Unix(42, 0) }
	req := SignRequest{Request: "CSR", Profile: "client"}
	if _, err := c.AuthSign(context.Background(), req, key); err != nil {
		t.Fatal(err)
	}
	// A remote that does not announce v2 (CFSSL) gets CFSSL's wrapper.
	if len(seen) != 2 || seen[0] != "HEAD /api/v1/cfssl/authsign  " {
		t.Fatalf("requests: %q, want the HEAD probe then the POST", seen)
	}
	_, body, _ := strings.Cut(seen[1], "application/json ")
	if !strings.HasPrefix(seen[1], "POST /api/v1/cfssl/authsign ") {
		t.Fatalf("request: %s", seen[1])
	}
	if strings.Contains(body, "pkid_auth") {
		t.Errorf("v2 wrapper sent to a remote that did not announce it: %s", body)
	}
	var w AuthRequest
	if err := json.Unmarshal([]byte(body), &w); err != nil {
		t.Fatal(err)
	}
	inner, _ := base64.StdEncoding.DecodeString(w.Request)
	want, _ := json.Marshal(req)
	if string(inner) != string(want) || w.Token != Token(key, inner) || w.Timestamp != 42 {
		t.Errorf("wrapper %+v, inner %s", w, inner)
	}
	if _, err := c.AuthSign(context.Background(), req, nil); err == nil {
		t.Error("empty key accepted")
	}

	seen = nil
	info, _ := envelopeServer(t, 200, `{"success":true,"result":{"certificate":"PEM","usages":["signing"],"expiry":"8760h"},"errors":[],"messages":[]}`, &seen)
	c, _ = New(info.URL, nil)
	res, err := c.Info(context.Background(), "L", "P")
	if err != nil || res.Certificate != "PEM" || res.Expiry != "8760h" || len(res.Usages) != 1 {
		t.Fatalf("info: %+v %v", res, err)
	}
	if !strings.HasSuffix(seen[0], `{"label":"L","profile":"P"}`) || !strings.HasPrefix(seen[0], "POST /api/v1/cfssl/info ") {
		t.Errorf("info request: %s", seen[0])
	}
}

func TestRemoteResponseCap(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"success":true,"result":{"certificate":"`))
		w.Write([]byte(strings.Repeat("A", MaxResponseBytes)))
		w.Write([]byte(`"},"errors":[],"messages":[]}`))
	}))
	defer s.Close()
	c, _ := New(s.URL, nil)
	_, err := c.Sign(context.Background(), SignRequest{})
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized reply: %v", err)
	}
}
