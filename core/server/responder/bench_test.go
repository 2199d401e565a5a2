package responder

import (
	"bytes"
	"context"
	"crypto"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// BenchmarkResponder: ~32 concurrent clients against an httptest server,
// GET and POST (cached, and uncached: source + parse per request), and a
// trivial handler returning 200 "{}" for comparison.
func BenchmarkResponder(b *testing.B) {
	c := newTestCA(b, "bench CA")
	serial := big.NewInt(123456789)
	now := time.Now()
	resp := c.respond(b, serial, ocsp.Good, crypto.SHA1, now.Truncate(time.Hour), now.Add(96*time.Hour))
	src := &fakeSource{fn: func(context.Context, *Request) ([]byte, error) { return resp, nil }}
	req := c.request(b, serial, crypto.SHA1)
	getPath := "/" + url.PathEscape(b64(req))
	parallelism := max(1, 32/runtime.GOMAXPROCS(0))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 64}}
	run := func(b *testing.B, h http.Handler, method, path string, body []byte, want int) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		b.SetParallelism(parallelism)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				res, err := client.Do(r)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || int(n) != want {
					b.Fatalf("status %d, %d bytes", res.StatusCode, n)
				}
			}
		})
	}
	b.Run("GET", func(b *testing.B) { run(b, NewHandler(src, Options{}), "GET", getPath, nil, len(resp)) })
	b.Run("POST", func(b *testing.B) { run(b, NewHandler(src, Options{}), "POST", "/", req, len(resp)) })
	b.Run("POST-nocache", func(b *testing.B) { run(b, NewHandler(src, Options{CacheBytes: -1}), "POST", "/", req, len(resp)) })
	b.Run("trivial", func(b *testing.B) {
		run(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(200)
			_, _ = w.Write([]byte("{}"))
		}), "GET", "/", nil, 2)
	})
}
