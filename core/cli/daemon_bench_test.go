package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/pgtest"
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
