package validation

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/dnstest"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate.
type testPKI struct {
	pool           *x509.CertPool
	server, client tls.Certificate
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	leaf := func(serial int64, eku x509.ExtKeyUsage) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{eku}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	p := testPKI{pool: x509.NewCertPool(), server: leaf(2, x509.ExtKeyUsageServerAuth), client: leaf(3, x509.ExtKeyUsageClientAuth)}
	p.pool.AddCert(ca)
	return p
}

func (p testPKI) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}, MinVersion: tls.VersionTLS12}
}

// startValidator serves h over mTLS as `pkid validator` does.
func startValidator(t *testing.T, p testPKI, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// counting is a perspective that counts calls.
type counting struct {
	fixed
	calls atomic.Int64
}

func (c *counting) Validate(ctx context.Context, req Request) View {
	c.calls.Add(1)
	return c.fixed.Validate(ctx, req)
}

func TestRemote(t *testing.T) {
	p := newPKI(t)
	okV := &counting{fixed: ok("far-away", "127.0.0.7")}
	srv := startValidator(t, p, NewHandler(okV))
	refusing := startValidator(t, p, NewHandler(no("elsewhere", ProblemIncorrectResponse, "saw junk", "127.0.0.8")))

	v := NewRemote("r1", srv.URL, p.clientTLS()).Validate(context.Background(), httpReq("x.test"))
	if !v.OK || v.Perspective != "r1" || strings.Join(v.Addresses, ",") != "127.0.0.7" {
		t.Fatalf("view %+v", v)
	}
	v = NewRemote("r2", refusing.URL+"/", p.clientTLS()).Validate(context.Background(), httpReq("x.test"))
	if v.OK || v.Perspective != "r2" || v.Problem.Type != ProblemIncorrectResponse || !strings.Contains(v.Problem.Detail, `calls itself "elsewhere"`) {
		t.Fatalf("view %+v %+v", v, v.Problem)
	}

	// Hostile validators: each is a refusing view naming the perspective.
	garbage := func(status int, ctype, body string) *httptest.Server {
		return startValidator(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(status)
			io.WriteString(w, body)
		}))
	}
	stop := make(chan struct{})
	slow := startValidator(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop) }) // runs before the servers close
	huge := startValidator(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"perspective":"x","ok":true,"addresses":["`)
		for range 1 << 10 {
			io.WriteString(w, strings.Repeat("1", 1<<10))
		}
		io.WriteString(w, `"]}`)
	}))
	otherPKI := newPKI(t)
	tests := []struct {
		name, url string
		tls       *tls.Config
		timeout   time.Duration
		detail    string
	}{
		{"not json", garbage(200, "application/json", "hello").URL, p.clientTLS(), 0, "answered garbage"},
		{"two values", garbage(200, "application/json", `{"ok":true}{"ok":true}`).URL, p.clientTLS(), 0, "answered garbage"},
		{"ok with a problem", garbage(200, "application/json", `{"ok":true,"problem":{"type":"x","detail":"y"}}`).URL, p.clientTLS(), 0, "inconsistent"},
		{"refusal without a problem", garbage(200, "application/json", `{"ok":false}`).URL, p.clientTLS(), 0, "inconsistent"},
		{"error status", garbage(500, "application/problem+json", `{"type":"x","detail":"disk on fire"}`).URL, p.clientTLS(), 0, "HTTP 500: disk on fire"},
		{"html error", garbage(502, "text/html", `<h1>bad gateway</h1>`).URL, p.clientTLS(), 0, "HTTP 502"},
		{"huge answer", huge.URL, p.clientTLS(), 0, "over 65536 bytes"},
		{"slow", slow.URL, p.clientTLS(), 300 * time.Millisecond, "timed out"},
		{"unreachable", fmt.Sprintf("https://127.0.0.1:%d", closedPort(t)), p.clientTLS(), 0, "unreachable"},
		{"validator of another PKI", srv.URL, otherPKI.clientTLS(), 0, "unreachable"},
		{"plain http", strings.Replace(srv.URL, "https", "http", 1), p.clientTLS(), 0, "HTTP 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			start := time.Now()
			v := NewRemote("far", tt.url, tt.tls).Validate(ctx, httpReq("x.test"))
			if v.OK || v.Perspective != "far" || v.Problem.Type != ProblemServerInternal ||
				!strings.Contains(v.Problem.Detail, "perspective far") || !strings.Contains(v.Problem.Detail, tt.detail) {
				t.Fatalf("view %+v problem %+v, want %q", v, v.Problem, tt.detail)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

// TestHandler sends hostile requests to a validator: each gets a 4xx
// problem and none reaches the perspective.
func TestHandler(t *testing.T) {
	p := newPKI(t)
	c := &counting{fixed: ok("v")}
	srv := startValidator(t, p, NewHandler(c))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: p.clientTLS()}, Timeout: 5 * time.Second}
	good, _ := json.Marshal(httpReq("x.test"))
	badTok := httpReq("x.test")
	badTok.Token = "short"
	badTokJSON, _ := json.Marshal(badTok)
	tests := []struct {
		name, method, path, ctype string
		body                      []byte
		status                    int
		detail                    string
	}{
		{"get", "GET", "/validate", "", nil, 405, "use POST"},
		{"text", "POST", "/validate", "text/plain", good, 415, "application/json"},
		{"not json", "POST", "/validate", "application/json", []byte("{"), 400, "not a validation request"},
		{"wrong types", "POST", "/validate", "application/json", []byte(`{"type":1}`), 400, "not a validation request"},
		{"trailing data", "POST", "/validate", "application/json", append(append([]byte{}, good...), " {}"...), 400, "after the JSON value"},
		{"huge", "POST", "/validate", "application/json", bytes.Repeat([]byte(" "), MaxRequestBody+1), 413, "over 65536 bytes"},
		{"bad token", "POST", "/validate", "application/json", badTokJSON, 400, "token"},
		{"health by post", "POST", "/health", "application/json", good, 405, "use GET"},
		{"unknown path", "GET", "/x", "", nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tt.detail == "" {
				return
			}
			var prob Problem
			if err := json.Unmarshal(body, &prob); err != nil || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(prob.Detail, tt.detail) {
				t.Fatalf("%s %q, want a problem containing %q", resp.Header.Get("Content-Type"), body, tt.detail)
			}
		})
	}
	if n := c.calls.Load(); n != 0 {
		t.Errorf("the perspective was called %d times", n)
	}
	resp, err := client.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Errorf("health: %d %s", resp.StatusCode, body)
	}
	// Without a client certificate, no request is served.
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}}, Timeout: 5 * time.Second}
	if resp, err := noCert.Get(srv.URL + "/health"); err == nil {
		resp.Body.Close()
		t.Errorf("served without a client certificate: %d", resp.StatusCode)
	}
}

// A validator runs at most MaxConcurrent validations at once.
func TestHandlerConcurrency(t *testing.T) {
	p := newPKI(t)
	release := make(chan struct{})
	var running atomic.Int64
	blocking := validatorFunc(func(ctx context.Context, req Request) View {
		running.Add(1)
		<-release
		return View{Perspective: "b", OK: true, Addresses: []string{"127.0.0.1"}}
	})
	srv := startValidator(t, p, NewHandler(blocking))
	r := NewRemote("b", srv.URL, p.clientTLS())
	results := make(chan View, MaxConcurrent)
	for range MaxConcurrent {
		go func() { results <- r.Validate(context.Background(), httpReq("x.test")) }()
	}
	deadline := time.Now().Add(5 * time.Second)
	for running.Load() < MaxConcurrent && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	v := r.Validate(context.Background(), httpReq("x.test"))
	close(release)
	if v.OK || !strings.Contains(v.Problem.Detail, "HTTP 503") {
		t.Errorf("validation %d: %+v %+v", MaxConcurrent+1, v, v.Problem)
	}
	for range MaxConcurrent {
		if v := <-results; !v.OK {
			t.Errorf("%+v", v.Problem)
		}
	}
}

type validatorFunc func(context.Context, Request) View

func (f validatorFunc) Validate(ctx context.Context, req Request) View { return f(ctx, req) }

// FuzzHandler: a validator's body comes from the network (behind mTLS,
// but a daemon bug or a stolen client key must not crash it). Any body
// gets either a view from the perspective or a 4xx problem, and only a
// well-formed request reaches the perspective.
func FuzzHandler(f *testing.F) {
	good, _ := json.Marshal(httpReq("x.test"))
	f.Add(good)
	f.Add([]byte(`{"type":"dns-01","identifier":{"type":"ip","value":"::1"}}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`[`))
	var calls atomic.Int64
	h := NewHandler(validatorFunc(func(ctx context.Context, req Request) View {
		calls.Add(1)
		if checkRequest(req) != nil {
			panic("an invalid request reached the perspective")
		}
		return View{Perspective: "f", OK: true}
	}))
	f.Fuzz(func(t *testing.T, body []byte) {
		before := calls.Load()
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/validate", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, r)
		called := calls.Load() > before
		switch {
		case w.Code == 200 && called:
		case w.Code >= 400 && w.Code < 500 && !called:
			var p Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Type == "" || p.Detail == "" {
				t.Fatalf("status %d with %q", w.Code, w.Body.Bytes())
			}
		default:
			t.Fatalf("status %d, perspective called %v", w.Code, called)
		}
	})
}

// TestRemoteEvidence: a remote perspective that says OK must show what
// it contacted, consistently with the request: an http-01 or tls-alpn-01
// acceptance without any address, with something that is not an address,
// or (for an ip identifier) without having contacted that address first,
// counts as a refusal.
func TestRemoteEvidence(t *testing.T) {
	p := newPKI(t)
	ipReq := func(typ string) Request {
		return Request{Type: typ, Identifier: Identifier{Type: "ip", Value: "127.0.0.9"}, Token: testToken, KeyAuthorization: testKeyAu}
	}
	alpn := httpReq("x.test")
	alpn.Type = TLSALPN01
	tests := []struct {
		name string
		view View
		req  Request
		ok   bool
	}{
		{"http-01 with its address", ok("r", "127.0.0.7").view, httpReq("x.test"), true},
		{"dns-01 needs no address", ok("r").view, dnsReq("x.test"), true},
		{"ip identifier contacted", ok("r", "127.0.0.9").view, ipReq(HTTP01), true},
		{"http-01 without addresses", ok("r").view, httpReq("x.test"), false},
		{"tls-alpn-01 without addresses", ok("r").view, alpn, false},
		{"not an address", ok("r", "x.test").view, httpReq("x.test"), false},
		{"ip identifier not contacted", ok("r", "127.0.0.8").view, ipReq(HTTP01), false},
		{"ip identifier contacted after another", ok("r", "127.0.0.8", "127.0.0.9").view, ipReq(TLSALPN01), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startValidator(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(tt.view)
			}))
			v := NewRemote("far", srv.URL, p.clientTLS()).Validate(context.Background(), tt.req)
			if v.OK != tt.ok {
				t.Fatalf("view %+v problem %+v, want ok %v", v, v.Problem, tt.ok)
			}
			if !v.OK && (v.Problem.Type != ProblemServerInternal || !strings.Contains(v.Problem.Detail, "evidence")) {
				t.Fatalf("problem %+v", v.Problem)
			}
		})
	}
}

// TestHealthTellsTheTruth: a validator whose resolver does not answer
// is not healthy (every validation it ran would fail); with a resolver
// that answers, it is.
func TestHealthTellsTheTruth(t *testing.T) {
	p := newPKI(t)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: p.clientTLS()}}
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.LocalAddr().String()
	dead.Close() // nothing answers there now
	live := dnstest.Start(t)
	for _, tc := range []struct {
		name, resolver string
		status         int
	}{
		{"resolver down", deadAddr, http.StatusServiceUnavailable},
		{"resolver up", live.Addr, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startValidator(t, p, NewHandler(NewLocal(LocalOptions{Name: "h", Resolver: tc.resolver, Timeout: 2 * time.Second})))
			start := time.Now()
			resp, err := client.Get(srv.URL + "/health")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("health: %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("health took %v", time.Since(start))
			}
		})
	}
}
