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
	"testing"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
)

// BenchmarkSignUnderKeygen measures one client's sign latency (HTTP, CSR
// checks, P-256 signing, SQLite record) on an idle server and while
// newkey RSA-4096 requests keep the key generation bound saturated, in the
// same run: scripts/bench.sh prints the ratio. The bound is what keeps
// sign usable under a key generation flood.
func BenchmarkSignUnderKeygen(b *testing.B) {
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
	post := func(endpoint string, body []byte) int {
		resp, err := http.Post(srv.URL+BasePath+endpoint, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	signLoop := func(b *testing.B) {
		b.ResetTimer()
		for i := range b.N {
			if st := post("sign", bodies[i%len(bodies)]); st != http.StatusOK {
				b.Fatalf("sign: %d", st)
			}
		}
		b.StopTimer()
	}

	b.Run("idle", signLoop)
	b.Run("keygen-load", func(b *testing.B) {
		// One more loader than the bound: the bound stays saturated
		// and the excess is refused (429) rather than queued; refused
		// loaders honour Retry-After, as a client should.
		loaders := config.DefaultMaxKeyGenerations + 1
		var (
			wg                 sync.WaitGroup
			generated, refused atomic.Int64
		)
		stop := make(chan struct{})
		rsa := []byte(`{"CN":"load.example","key":{"algo":"rsa","size":4096}}`)
		for range loaders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					switch post("newkey", rsa) {
					case http.StatusOK:
						generated.Add(1)
					case http.StatusTooManyRequests:
						refused.Add(1)
						select {
						case <-stop:
						case <-time.After(retryAfterSeconds * time.Second):
						}
					default:
						return
					}
				}
			}()
		}
		// Let the generations start before timing sign.
		for i := 0; len(s.keygen) < cap(s.keygen); i++ {
			if i == 10000 {
				b.Fatal("the key generation bound never filled")
			}
			time.Sleep(time.Millisecond)
		}
		signLoop(b)
		close(stop)
		wg.Wait()
		b.ReportMetric(float64(generated.Load()), "keys")
		b.ReportMetric(float64(refused.Load()), "refused")
	})
}
