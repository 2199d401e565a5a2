package responder

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// fixedNow is the handlers' clock in these tests.
var fixedNow = time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC)

// env is a handler on an httptest server over a fake source that answers
// with pre-signed responses of one CA.
type env struct {
	t     *testing.T
	ca    *testCA
	src   *fakeSource
	h     *Handler
	srv   *httptest.Server
	now   time.Time
	this  time.Time
	next  time.Time
	mu    sync.Mutex
	resps map[string][]byte // by serial
}

func newEnv(t *testing.T, opts Options) *env {
	e := &env{t: t, ca: newTestCA(t, "handler CA"), now: fixedNow, resps: map[string][]byte{}}
	e.this = fixedNow.Truncate(time.Hour)
	e.next = e.this.Add(96 * time.Hour)
	e.src = &fakeSource{fn: func(_ context.Context, req *Request) ([]byte, error) {
		if !(&fakeIssuer{ca: e.ca}).MatchesCertID(req.Hash, req.NameHash, req.KeyHash) {
			return nil, ErrNotFound
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		k := fmt.Sprint(req.Hash, "/", req.Serial)
		if d, ok := e.resps[k]; ok {
			return d, nil
		}
		d := e.ca.respond(t, req.Serial, ocsp.Good, req.Hash, e.this, e.next)
		e.resps[k] = d
		return d, nil
	}}
	if opts.Now == nil {
		opts.Now = func() time.Time { return e.now }
	}
	e.h = NewHandler(e.src, opts)
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	return e
}

func do(t *testing.T, method, u string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// checkGood asserts a 200 DER good response for serial.
func checkGood(t *testing.T, c *testCA, resp *http.Response, body []byte, serial *big.Int) {
	t.Helper()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("status %d, content type %q, body %x", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	r, err := ocsp.ParseResponse(body, c.cert)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if r.SerialNumber.Cmp(serial) != 0 || r.Status != ocsp.Good {
		t.Fatalf("serial %v status %d", r.SerialNumber, r.Status)
	}
}

// awkwardSerial finds a serial whose SHA-1 request's base64 contains
// '/', '+' and "=" (padding), and one with "//".
func awkwardSerials(t *testing.T, c *testCA) (plusSlash, doubleSlash *big.Int) {
	for i := int64(1); i < 2_000_000 && (plusSlash == nil || doubleSlash == nil); i++ {
		s := big.NewInt(i * 7919)
		enc := b64(c.request(t, s, crypto.SHA1))
		if plusSlash == nil && strings.Contains(enc, "/") && strings.Contains(enc, "+") && strings.HasSuffix(enc, "=") {
			plusSlash = s
		}
		if doubleSlash == nil && strings.Contains(enc, "//") {
			doubleSlash = s
		}
	}
	if plusSlash == nil || doubleSlash == nil {
		t.Fatal("no awkward serials found")
	}
	return plusSlash, doubleSlash
}

func TestGETEncodings(t *testing.T) {
	e := newEnv(t, Options{CacheBytes: -1})
	ps, ds := awkwardSerials(t, e.ca)
	for _, s := range []*big.Int{ps, ds} {
		enc := b64(e.ca.request(t, s, crypto.SHA1))
		variants := map[string]string{
			"raw":            "/" + enc,
			"escaped":        "/" + url.PathEscape(enc),
			"all escaped":    "/" + strings.NewReplacer("/", "%2F", "+", "%2B", "=", "%3D").Replace(enc),
			"query-escaped":  "/" + url.QueryEscape(enc),
			"space for plus": "/" + strings.ReplaceAll(enc, "+", "%20"),
			"unpadded":       "/" + strings.TrimRight(enc, "="),
			"double leading": "//" + enc,
		}
		for name, p := range variants {
			resp, body := do(t, "GET", e.srv.URL+p, nil)
			if resp.StatusCode != 200 {
				t.Errorf("serial %v %s (%s): status %d", s, name, p, resp.StatusCode)
				continue
			}
			checkGood(t, e.ca, resp, body, s)
		}
	}
	// Under a prefix with http.StripPrefix (no ServeMux cleaning).
	srv := httptest.NewServer(http.StripPrefix("/ocsp", e.h))
	defer srv.Close()
	enc := b64(e.ca.request(t, ds, crypto.SHA1))
	resp, body := do(t, "GET", srv.URL+"/ocsp/"+enc, nil)
	checkGood(t, e.ca, resp, body, ds)
	resp, body = do(t, "GET", srv.URL+"/ocsp/"+strings.ReplaceAll(enc, "/", "%2F"), nil)
	checkGood(t, e.ca, resp, body, ds)
}

func TestPOSTAnyContentType(t *testing.T) {
	e := newEnv(t, Options{})
	der := e.ca.request(t, big.NewInt(77), crypto.SHA256)
	for _, ct := range []string{"application/ocsp-request", "text/plain", "", "application/x-www-form-urlencoded"} {
		resp, body := do(t, "POST", e.srv.URL+"/anything/here", der, "Content-Type", ct)
		checkGood(t, e.ca, resp, body, big.NewInt(77))
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, Options{})
	for _, m := range []string{"PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"} {
		resp, body := do(t, m, e.srv.URL+"/", nil)
		if resp.StatusCode != 405 || len(body) != 0 || resp.Header.Get("Allow") != "GET, POST" {
			t.Errorf("%s: %d %q Allow %q", m, resp.StatusCode, body, resp.Header.Get("Allow"))
		}
	}
}

func checkOCSPError(t *testing.T, what string, resp *http.Response, body []byte, status int, want []byte) {
	t.Helper()
	if resp.StatusCode != status || !bytes.Equal(body, want) || resp.Header.Get("Content-Type") != "application/ocsp-response" ||
		resp.Header.Get("Cache-Control") != "max-age=0, no-cache" {
		t.Errorf("%s: status %d body %x headers %v; want %d %x", what, resp.StatusCode, body, resp.Header, status, want)
	}
}

func TestMalformed(t *testing.T) {
	e := newEnv(t, Options{})
	good := e.ca.request(t, big.NewInt(5), crypto.SHA1)
	for name, der := range map[string][]byte{
		"garbage": []byte("not ocsp"), "truncated": good[:len(good)-3], "empty": nil,
		"trailing": append(append([]byte{}, good...), 1, 2),
	} {
		resp, body := do(t, "POST", e.srv.URL+"/", der)
		checkOCSPError(t, "POST "+name, resp, body, 400, malformedRequestDER)
		if len(der) > 0 {
			resp, body = do(t, "GET", e.srv.URL+"/"+url.PathEscape(b64(der)), nil)
			checkOCSPError(t, "GET "+name, resp, body, 400, malformedRequestDER)
		}
	}
	if n := e.src.calls.Load(); n != 0 {
		t.Errorf("source called %d times for malformed requests", n)
	}
}

func TestBadEscapeOrBase64(t *testing.T) {
	e := newEnv(t, Options{})
	u, _ := url.Parse(e.srv.URL)
	for _, p := range []string{"/%zz", "/MEI%", "/!!!!", "/MEI=A", "/M"} {
		// Opaque is sent as is, so invalid escapes reach the server.
		req := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: u.Host, Opaque: p}, Header: http.Header{}}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// net/http itself refuses invalid escapes (with a text body).
		if strings.Contains(p, "%") {
			if resp.StatusCode != 400 {
				t.Errorf("%s: %d %x", p, resp.StatusCode, body)
			}
		} else {
			checkOCSPError(t, "GET "+p, resp, body, 400, malformedRequestDER)
		}
		// The handler alone: malformedRequest (RFC 6960, section 2.3), not
		// CFSSL's empty 400.
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, &http.Request{Method: "GET", URL: &url.URL{Path: p}, Header: http.Header{}})
		checkOCSPError(t, "handler "+p, rec.Result(), rec.Body.Bytes(), 400, malformedRequestDER)
	}
}

func TestOversizePOST(t *testing.T) {
	e := newEnv(t, Options{MaxBodyBytes: 100})
	big := bytes.Repeat([]byte{0x30}, 101)
	resp, body := do(t, "POST", e.srv.URL+"/", big)
	if resp.StatusCode != 413 || len(body) != 0 {
		t.Errorf("declared length: %d %x", resp.StatusCode, body)
	}
	// Chunked (no Content-Length).
	req, _ := http.NewRequest("POST", e.srv.URL+"/", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 413 {
		t.Errorf("chunked: %d", r2.StatusCode)
	}
	// Default cap is 16 KiB.
	e2 := newEnv(t, Options{})
	resp, _ = do(t, "POST", e2.srv.URL+"/", bytes.Repeat([]byte{0}, 16<<10+1))
	if resp.StatusCode != 413 {
		t.Errorf("default cap: %d", resp.StatusCode)
	}
	resp, body = do(t, "POST", e2.srv.URL+"/", bytes.Repeat([]byte{0}, 16<<10))
	checkOCSPError(t, "at the cap", resp, body, 400, malformedRequestDER)
}

func TestUnknownIssuerUnauthorized(t *testing.T) {
	e := newEnv(t, Options{})
	other := newTestCA(t, "other CA")
	resp, body := do(t, "POST", e.srv.URL+"/", other.request(t, big.NewInt(5), crypto.SHA1))
	checkOCSPError(t, "unknown issuer", resp, body, 200, unauthorizedDER)
}

func TestSourceFaults(t *testing.T) {
	c := newTestCA(t, "fault CA")
	for name, fn := range map[string]func(context.Context, *Request) ([]byte, error){
		"store error":  func(context.Context, *Request) ([]byte, error) { return nil, errors.New("database is down") },
		"bad response": func(context.Context, *Request) ([]byte, error) { return []byte("junk"), nil },
		"error status": func(context.Context, *Request) ([]byte, error) { return unauthorizedDER, nil },
	} {
		h := NewHandler(&fakeSource{fn: fn}, Options{})
		srv := httptest.NewServer(h)
		resp, body := do(t, "POST", srv.URL+"/", c.request(t, big.NewInt(1), crypto.SHA1))
		checkOCSPError(t, name, resp, body, 500, internalErrorDER)
		srv.Close()
	}
	// A wrapped ErrNotFound is unauthorized.
	h := NewHandler(&fakeSource{fn: func(context.Context, *Request) ([]byte, error) { return nil, fmt.Errorf("x: %w", ErrNotFound) }}, Options{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, body := do(t, "POST", srv.URL+"/", c.request(t, big.NewInt(1), crypto.SHA1))
	checkOCSPError(t, "wrapped not found", resp, body, 200, unauthorizedDER)
}

func TestCachingHeadersAndETag(t *testing.T) {
	e := newEnv(t, Options{})
	e.now = e.this.Add(90*time.Minute + 10*time.Second + 500*time.Millisecond)
	der := e.ca.request(t, big.NewInt(31337), crypto.SHA1)
	resp, body := do(t, "GET", e.srv.URL+"/"+url.PathEscape(b64(der)), nil)
	checkGood(t, e.ca, resp, body, big.NewInt(31337))
	sum := sha256.Sum256(body)
	etag := `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`
	wantMaxAge := int64(e.next.Sub(e.now) / time.Second) // 96h - 1h30m10.5s, floored
	want := map[string]string{
		"Cache-Control": fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", wantMaxAge),
		"Last-Modified": e.this.Format("Mon, 02 Jan 2006 15:04:05") + " GMT",
		"Expires":       e.next.Format("Mon, 02 Jan 2006 15:04:05") + " GMT",
		"ETag":          etag,
		"Content-Type":  "application/ocsp-response",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if wantMaxAge != 96*3600-5411 {
		t.Fatalf("test arithmetic: %d", wantMaxAge)
	}
	// Conditional requests.
	for _, inm := range []string{etag, `"nope", ` + etag, "W/" + etag, "*"} {
		resp, body = do(t, "GET", e.srv.URL+"/"+url.PathEscape(b64(der)), nil, "If-None-Match", inm)
		if resp.StatusCode != 304 || len(body) != 0 || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d, %d bytes", inm, resp.StatusCode, len(body))
		}
	}
	resp, body = do(t, "POST", e.srv.URL+"/", der, "If-None-Match", `"0123"`)
	checkGood(t, e.ca, resp, body, big.NewInt(31337))
	// Past nextUpdate max-age is 0 (the cache TTL ran out long before).
	e.now = e.next.Add(time.Hour)
	resp, _ = do(t, "POST", e.srv.URL+"/", der)
	if got := resp.Header.Get("Cache-Control"); got != "max-age=0, public, no-transform, must-revalidate" {
		t.Errorf("expired: Cache-Control %q", got)
	}
}

func TestCacheHitForgetPurgeTTL(t *testing.T) {
	e := newEnv(t, Options{CacheTTL: time.Minute})
	der := e.ca.request(t, big.NewInt(900), crypto.SHA1)
	get := func() {
		t.Helper()
		resp, body := do(t, "POST", e.srv.URL+"/", der)
		checkGood(t, e.ca, resp, body, big.NewInt(900))
	}
	get()
	get()
	resp, body := do(t, "GET", e.srv.URL+"/"+url.PathEscape(b64(der)), nil)
	checkGood(t, e.ca, resp, body, big.NewInt(900))
	if n := e.src.calls.Load(); n != 1 {
		t.Fatalf("source calls after 3 requests: %d, want 1", n)
	}
	// Another hash is another CertID.
	resp, body = do(t, "POST", e.srv.URL+"/", e.ca.request(t, big.NewInt(900), crypto.SHA256))
	checkGood(t, e.ca, resp, body, big.NewInt(900))
	if n := e.src.calls.Load(); n != 2 {
		t.Fatalf("source calls: %d, want 2", n)
	}
	e.h.Forget(big.NewInt(901))
	get()
	if n := e.src.calls.Load(); n != 2 {
		t.Fatalf("Forget of another serial dropped the entry: %d calls", n)
	}
	e.h.Forget(big.NewInt(900))
	get()
	if n := e.src.calls.Load(); n != 3 {
		t.Fatalf("after Forget: %d calls, want 3", n)
	}
	if ent, _ := e.h.cache.stats(); ent != 1 {
		t.Errorf("entries after Forget: %d (the SHA-256 one should be gone too)", ent)
	}
	e.h.Purge()
	get()
	if n := e.src.calls.Load(); n != 4 {
		t.Fatalf("after Purge: %d calls, want 4", n)
	}
	e.now = e.now.Add(59 * time.Second)
	get()
	if n := e.src.calls.Load(); n != 4 {
		t.Fatalf("within TTL: %d calls", n)
	}
	e.now = e.now.Add(2 * time.Second)
	get()
	if n := e.src.calls.Load(); n != 5 {
		t.Fatalf("after TTL: %d calls, want 5", n)
	}
	// Unauthorized and errors are not cached.
	other := newTestCA(t, "other")
	for i := 0; i < 2; i++ {
		do(t, "POST", e.srv.URL+"/", other.request(t, big.NewInt(1), crypto.SHA1))
	}
	if n := e.src.calls.Load(); n != 7 {
		t.Fatalf("unauthorized cached? %d calls, want 7", n)
	}
}

func TestCacheNeverPastNextUpdate(t *testing.T) {
	e := newEnv(t, Options{CacheTTL: time.Hour})
	e.now = e.next.Add(-10 * time.Second)
	der := e.ca.request(t, big.NewInt(3), crypto.SHA1)
	do(t, "POST", e.srv.URL+"/", der)
	do(t, "POST", e.srv.URL+"/", der)
	e.now = e.next
	do(t, "POST", e.srv.URL+"/", der)
	if n := e.src.calls.Load(); n != 2 {
		t.Fatalf("calls %d, want 2", n)
	}
}

func TestCacheBound(t *testing.T) {
	const bound = 4000
	e := newEnv(t, Options{CacheBytes: bound})
	var size, maxSize int
	for i := int64(1); i <= 60; i++ {
		resp, body := do(t, "POST", e.srv.URL+"/", e.ca.request(t, big.NewInt(i), crypto.SHA1))
		checkGood(t, e.ca, resp, body, big.NewInt(i))
		size = len(body)
		maxSize = max(maxSize, size)
		if _, b := e.h.cache.stats(); b > bound {
			t.Fatalf("cache holds %d bytes > %d", b, bound)
		}
	}
	n, b := e.h.cache.stats()
	if n < bound/maxSize || b+int64(maxSize) <= bound-int64(maxSize) {
		t.Errorf("entries %d bytes %d: cache underused (responses ≤ %d bytes)", n, b, maxSize)
	}
	// LRU: the most recent is still cached, the first is not.
	calls := e.src.calls.Load()
	do(t, "POST", e.srv.URL+"/", e.ca.request(t, big.NewInt(60), crypto.SHA1))
	if e.src.calls.Load() != calls {
		t.Error("most recent entry was evicted")
	}
	do(t, "POST", e.srv.URL+"/", e.ca.request(t, big.NewInt(1), crypto.SHA1))
	if e.src.calls.Load() != calls+1 {
		t.Error("oldest entry still cached")
	}
	// Disabled cache.
	e2 := newEnv(t, Options{CacheBytes: -1})
	der := e2.ca.request(t, big.NewInt(1), crypto.SHA1)
	do(t, "POST", e2.srv.URL+"/", der)
	do(t, "POST", e2.srv.URL+"/", der)
	if n := e2.src.calls.Load(); n != 2 {
		t.Errorf("disabled cache: %d calls", n)
	}
}

// Concurrent misses for one CertID make one Source call.
func TestNoStampede(t *testing.T) {
	c := newTestCA(t, "stampede CA")
	release := make(chan struct{})
	resp := c.respond(t, big.NewInt(8), ocsp.Good, crypto.SHA1, fixedNow.Truncate(time.Hour), fixedNow.Add(time.Hour))
	src := &fakeSource{fn: func(context.Context, *Request) ([]byte, error) { <-release; return resp, nil }}
	h := NewHandler(src, Options{Now: func() time.Time { return fixedNow }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	der := c.request(t, big.NewInt(8), crypto.SHA1)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := http.Post(srv.URL+"/", "", bytes.NewReader(der))
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if !bytes.Equal(b, resp) {
				errs <- fmt.Errorf("status %d body %x", r.StatusCode, b)
			}
		}()
	}
	// Wait until all 20 are waiting on the in-flight call or the source.
	deadline := time.Now().Add(5 * time.Second)
	for src.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source calls: %d, want 1", n)
	}
}

// A Forget during a Source call keeps that call's answer out of the cache.
func TestForgetDuringFetch(t *testing.T) {
	c := newTestCA(t, "race CA")
	started, release := make(chan struct{}, 1), make(chan struct{})
	resp := c.respond(t, big.NewInt(8), ocsp.Good, crypto.SHA1, fixedNow.Truncate(time.Hour), fixedNow.Add(time.Hour))
	src := &fakeSource{fn: func(context.Context, *Request) ([]byte, error) {
		select {
		case started <- struct{}{}:
			<-release
		default:
		}
		return resp, nil
	}}
	h := NewHandler(src, Options{Now: func() time.Time { return fixedNow }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	der := c.request(t, big.NewInt(8), crypto.SHA1)
	done := make(chan struct{})
	go func() { defer close(done); do(t, "POST", srv.URL+"/", der) }()
	<-started
	h.Forget(big.NewInt(8))
	close(release)
	<-done
	do(t, "POST", srv.URL+"/", der)
	if n := src.calls.Load(); n != 2 {
		t.Errorf("calls %d, want 2: a pre-Forget answer was cached", n)
	}
}
