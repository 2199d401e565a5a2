package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/pgtest"
)

// benchBinary is pkidBinary for a benchmark: it shares the build (same
// sync.Once and path), since pkidBinary itself takes a *testing.T.
func benchBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pkid-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pkid")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/pkid").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// benchServe starts `pkid serve -config cfg` on a free loopback port, like
// startDaemon, and returns its base URL once the banner is complete.
func benchServe(tb testing.TB, cfg string) string {
	tb.Helper()
	cmd := exec.Command(benchBinary(tb), "serve", "-config", cfg, "-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "PKID_LOG_LEVEL=warn")
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		pw.Close()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		base := ""
		for sc.Scan() {
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				base = m[1]
			}
			if base != "" && strings.HasPrefix(sc.Text(), "Default CA:") {
				found <- base
			}
		}
	}()
	select {
	case base := <-found:
		return base
	case <-time.After(60 * time.Second):
		tb.Fatalf("daemon did not start: %s", stderr.String())
		return ""
	}
}

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
		url := benchServe(b, cfg) + "/api/v1/cfssl/sign"
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
