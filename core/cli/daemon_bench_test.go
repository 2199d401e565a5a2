package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/internal/pgtest"
	"golang.org/x/crypto/ocsp"
)

// BenchmarkDaemonSign32 measures the daemon end to end — HTTP, CSR checks,
// signing through the keystore plugin, recording in the certstore plugin —
// with 32 concurrent clients over loopback, once per certificate store.
// scripts/bench.sh prints the postgres/sqlite ratio of requests/s.
func BenchmarkDaemonSign32(b *testing.B) {
	const clients = 32
	stores := []struct {
		name  string
		block func(testing.TB) string
	}{
		{"sqlite", func(tb testing.TB) string {
			return fmt.Sprintf("certstore \"sqlite\" \"main\" {\n  path = %q\n}\n", filepath.Join(tb.TempDir(), "pkid.db"))
		}},
		{"postgres", func(tb testing.TB) string { return postgresStore(pgtest.Shared(tb).NewDatabase(tb)) }},
	}
	var bodies [][]byte
	for _, m := range signBodies(b, 8) {
		body, _ := json.Marshal(m)
		bodies = append(bodies, body)
	}
	hc := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients},
	}
	defer hc.CloseIdleConnections()
	for _, s := range stores {
		cfg := nodeConfig(b, s.block(b))
		initIssuing(b, cfg)
		url := startDaemon(b, "serve", "-config", cfg, "-listen", "127.0.0.1:0").base + "/api/v1/cfssl/sign"
		b.Run(s.name, func(b *testing.B) {
			var (
				next   atomic.Int64
				failed atomic.Bool
				wg     sync.WaitGroup
			)
			b.ResetTimer()
			start := time.Now()
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= int64(b.N) && !failed.Load(); n = next.Add(1) {
						resp, err := hc.Post(url, "application/json", bytes.NewReader(bodies[(c+int(n))%len(bodies)]))
						if err != nil {
							b.Error(err)
							failed.Store(true)
							return
						}
						data, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							b.Errorf("sign: %d %s", resp.StatusCode, data)
							failed.Store(true)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "requests/s")
		})
	}
}

// BenchmarkDaemonOCSP32 measures the daemon's OCSP responder with 32
// concurrent clients over loopback — GET (base64 in the path) and POST —
// next to the same daemon's health endpoint (which probes the store) and a
// static file (the CA certificate: the trivial baseline). Responses are signed
// once (SHA-1 CertIDs, stored) during warm-up, then served pre-signed.
// scripts/bench.sh prints the ratios of requests/s.
func BenchmarkDaemonOCSP32(b *testing.B) {
	const clients = 32
	cfg := nodeConfig(b, fmt.Sprintf("certstore \"sqlite\" \"main\" {\n  path = %q\n}\n", filepath.Join(b.TempDir(), "pkid.db")))
	initIssuing(b, cfg)
	base := startDaemon(b, "serve", "-config", cfg, "-listen", "127.0.0.1:0").base
	hc := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients},
	}
	defer hc.CloseIdleConnections()
	caCerts, err := authority.ReadCertificates(filepath.Join(filepath.Dir(cfg), "ca", "issuing.pem"))
	if err != nil {
		b.Fatal(err)
	}
	var reqs [][]byte
	for _, m := range signBodies(b, 64) {
		body, _ := json.Marshal(m)
		resp, err := hc.Post(base+"/api/v1/cfssl/sign", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		var env envelope
		json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		c, err := resultCert(env)
		if err != nil || c == nil {
			b.Fatalf("sign: %v %+v", err, env)
		}
		req, err := ocsp.CreateRequest(c, caCerts[0], nil)
		if err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, req)
	}
	kinds := []struct {
		name string
		do   func(i int) (*http.Response, error)
	}{
		// health probes the certstore plugin and the CAs; ca-cert serves
		// fixed bytes: the trivial baseline.
		{"health", func(int) (*http.Response, error) { return hc.Get(base + "/api/v1/cfssl/health") }},
		{"ca-cert", func(int) (*http.Response, error) { return hc.Get(base + "/ca/issuing.crt") }},
		{"ocsp-get", func(i int) (*http.Response, error) {
			return hc.Get(base + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(reqs[i%len(reqs)])))
		}},
		{"ocsp-post", func(i int) (*http.Response, error) {
			return hc.Post(base+"/ocsp", "application/ocsp-request", bytes.NewReader(reqs[i%len(reqs)]))
		}},
	}
	// Warm-up: every response signed once and stored.
	for i := range reqs {
		resp, err := kinds[3].do(i)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if r, err := ocsp.ParseResponse(body, caCerts[0]); err != nil || r.Status != ocsp.Good {
			b.Fatalf("warm-up: %v", err)
		}
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			var (
				next   atomic.Int64
				failed atomic.Bool
				wg     sync.WaitGroup
			)
			b.ResetTimer()
			start := time.Now()
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= int64(b.N) && !failed.Load(); n = next.Add(1) {
						resp, err := k.do(int(n))
						if err != nil {
							b.Error(err)
							failed.Store(true)
							return
						}
						data, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK || len(data) == 0 {
							b.Errorf("%s: %d %q", k.name, resp.StatusCode, data)
							failed.Store(true)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "requests/s")
		})
	}
}
