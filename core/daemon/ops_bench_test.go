package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/audit"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/metrics"
	"github.com/pkid/pkid/core/server"
)

const benchProfiles = `{"signing":{"default":{"usages":["digital signature","server auth"],"expiry":"720h"},
 "profiles":{"server":{"usages":["digital signature","server auth"],"expiry":"720h"}}}}`

// BenchmarkIssuanceObserved measures the API's issuance path (decode,
// CSR checks, lint-free P-256 signing, envelope; no certstore) bare, with
// metrics (the daemon's Observer without an audit log) and with metrics
// and the audit log (one fsynced record per certificate), in one run:
// the ratios are the cost of each. Run with -benchtime and compare
// ns/op of the sub-benchmarks.
func BenchmarkIssuanceObserved(b *testing.B) {
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		b.Fatal(err)
	}
	root, _, err := ca.InitCA(context.Background(), ca.InitCARequest{Request: &csr.Request{CN: "bench CA", KeyRequest: csr.DefaultKeyRequest()}, Signer: key})
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := profile.ParseCFSSL([]byte(benchProfiles))
	if err != nil {
		b.Fatal(err)
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "bench", Certificate: root.Cert, Signer: key, Profiles: cfg})
	if err != nil {
		b.Fatal(err)
	}
	set := &authority.Set{CAs: map[string]*ca.Issuer{"bench": iss}, Default: "bench"}
	leafKey, _ := csr.DefaultKeyRequest().Generate()
	csrPEM, err := csr.Generate(&csr.Request{CN: "bench.example.com", Hosts: []string{"bench.example.com"}}, leafKey)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"certificate_request": string(csrPEM), "profile": "server", "label": "bench"})

	withAudit := func(b *testing.B) server.Observer {
		l, err := audit.Open(filepath.Join(b.TempDir(), "audit.log"), audit.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
		return &ops{m: metrics.New(), log: hclog.NewNullLogger(), audit: l}
	}
	// Interleaved: each iteration issues once per variant, so load from
	// other processes hits every variant alike; the ratios are reported
	// as metrics of this one benchmark.
	b.Run("interleaved", func(b *testing.B) {
		variants := []server.Observer{nil, &ops{m: metrics.New(), log: hclog.NewNullLogger()}, withAudit(b)}
		names := []string{"bare", "metrics", "audit"}
		handlers := make([]http.Handler, len(variants))
		for i, o := range variants {
			s, err := server.New(server.Options{CAs: set, Observer: o})
			if err != nil {
				b.Fatal(err)
			}
			handlers[i] = s.Handler()
		}
		spent := make([]time.Duration, len(variants))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for v := range handlers {
				j := (i + v) % len(handlers) // rotate the order too
				rec := httptest.NewRecorder()
				start := time.Now()
				handlers[j].ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/cfssl/sign", bytes.NewReader(body)))
				spent[j] += time.Since(start)
				if rec.Code != http.StatusOK {
					b.Fatalf("sign: %d %s", rec.Code, rec.Body)
				}
			}
		}
		for v, name := range names {
			b.ReportMetric(float64(spent[v].Nanoseconds())/float64(b.N), name+"-ns/op")
		}
		b.ReportMetric(float64(spent[1])/float64(spent[0]), "metrics/bare")
		b.ReportMetric(float64(spent[2])/float64(spent[0]), "metrics+audit/bare")
	})
	for _, bc := range []struct {
		name string
		obs  func(*testing.B) server.Observer
	}{
		{"bare", func(*testing.B) server.Observer { return nil }},
		{"metrics", func(*testing.B) server.Observer { return &ops{m: metrics.New(), log: hclog.NewNullLogger()} }},
		{"metrics+audit", withAudit},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := server.New(server.Options{CAs: set, Observer: bc.obs(b)})
			if err != nil {
				b.Fatal(err)
			}
			h := s.Handler()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/cfssl/sign", bytes.NewReader(body)))
				if rec.Code != http.StatusOK {
					b.Fatalf("sign: %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
