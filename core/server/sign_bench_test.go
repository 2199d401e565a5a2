package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
)

// BenchmarkServeSign32 is POST /sign in one process — HTTP, decoding,
// CSR checks, lint, P-256 signing, the SQLite record — with 32 concurrent
// clients over loopback: the daemon's path without the plugin hops, for a
// CPU profile (go test -cpuprofile). cpu-ns/op is the process CPU per
// request, clients included.
func BenchmarkServeSign32(b *testing.B) {
	const clients = 32
	store, err := storesqlite.Open(context.Background(), storesqlite.Options{Path: filepath.Join(b.TempDir(), "certs.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		b.Fatal(err)
	}
	root, _, err := ca.InitCA(context.Background(), ca.InitCARequest{
		Request: &csr.Request{CN: "bench CA", KeyRequest: csr.DefaultKeyRequest()}, Signer: key})
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := profile.ParseCFSSL([]byte(plainConfig))
	if err != nil {
		b.Fatal(err)
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "bench", Certificate: root.Cert, Signer: key, Profiles: cfg, Store: store})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{CAs: &authority.Set{CAs: map[string]*ca.Issuer{"bench": iss}, Default: "bench"}, Store: store})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	var bodies [][]byte
	for range 16 {
		k, _ := csr.DefaultKeyRequest().Generate()
		p, err := csr.Generate(&csr.Request{CN: "b.example", Hosts: []string{"b.example"}, KeyRequest: csr.DefaultKeyRequest()}, k)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := json.Marshal(map[string]string{"certificate_request": string(p)})
		bodies = append(bodies, body)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients}}
	defer hc.CloseIdleConnections()
	var (
		next   atomic.Int64
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	b.ResetTimer()
	cpu0 := processCPU()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := next.Add(1); n <= int64(b.N) && !failed.Load(); n = next.Add(1) {
				resp, err := hc.Post(srv.URL+BasePath+"sign", "application/json", bytes.NewReader(bodies[(c+int(n))%len(bodies)]))
				if err != nil {
					b.Error(err)
					failed.Store(true)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("sign: %d", resp.StatusCode)
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is this process's user+system CPU time in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
