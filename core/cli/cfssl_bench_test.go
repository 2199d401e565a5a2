package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/pkid/pkid/internal/testtool"
)

// BenchmarkSignVsCFSSL32 puts pkid serve next to the real cfssl serve
// (CFSSL 1.6.5 from bin/), 32 closed-loop clients over loopback, the same
// client and the same P-256 CSRs for all, all daemons up for the whole
// run: pkid's default configuration (keystore and certstore plugins out
// of process, every certificate linted and durably recorded), the same
// with both builtins isolation = "inprocess", cfssl serve without a
// database, and cfssl serve -db-config on SQLite (CFSSL's certdb schema,
// applied from its own goose migrations), in PKID_BENCH_ROUNDS (3)
// interleaved rounds. scripts/bench.sh prints the ratios of requests/s
// and the p50/p99 latencies.
func BenchmarkSignVsCFSSL32(b *testing.B) {
	const clients = 32
	dir := b.TempDir()
	var bodies [][]byte
	for _, m := range signBodies(b, 8) {
		body, _ := json.Marshal(m)
		bodies = append(bodies, body)
	}
	sqliteStore := func(tb testing.TB, extra string) string {
		return fmt.Sprintf("certstore \"sqlite\" \"main\" {\n  path = %q\n%s}\n", filepath.Join(tb.TempDir(), "pkid.db"), extra)
	}
	pkidCfg := nodeConfig(b, sqliteStore(b, ""))
	initIssuing(b, pkidCfg)
	inCfg := inprocessConfig(b, nodeConfig(b, sqliteStore(b, "  isolation = \"inprocess\"\n")))
	initIssuing(b, inCfg)

	cfssl := testtool.Oracle(b, "cfssl")
	caCert, caKey := cfsslCA(b, dir)
	cfsslCfg := filepath.Join(dir, "cfssl.json")
	writeBenchFile(b, cfsslCfg, `{"signing":{"default":{"usages":["digital signature","key encipherment","server auth"],"expiry":"2160h"},
"profiles":{"server":{"usages":["digital signature","key encipherment","server auth"],"expiry":"2160h"}}}}`)
	dbCfg := filepath.Join(dir, "db.json")
	writeBenchFile(b, dbCfg, fmt.Sprintf(`{"driver":"sqlite3","data_source":%q}`, cfsslCertDB(b, filepath.Join(dir, "certdb.sqlite"))))

	type target struct {
		name, url string
		pid       int // the daemon; its plugin processes are its children
	}
	pkidD := startDaemon(b, "serve", "-config", pkidCfg, "-listen", "127.0.0.1:0")
	inD := startDaemon(b, "serve", "-config", inCfg, "-listen", "127.0.0.1:0")
	cfURL, cfPID := startCFSSL(b, cfssl, "-ca", caCert, "-ca-key", caKey, "-config", cfsslCfg)
	cfdbURL, cfdbPID := startCFSSL(b, cfssl, "-ca", caCert, "-ca-key", caKey, "-config", cfsslCfg, "-db-config", dbCfg)
	targets := []target{
		{"pkid", pkidD.base, pkidD.cmd.Process.Pid},
		{"pkid-inprocess", inD.base, inD.cmd.Process.Pid},
		{"cfssl", cfURL, cfPID},
		{"cfssl-sqlite", cfdbURL, cfdbPID},
	}
	// PKID_BENCH_BASE_PKID: a pkid binary of an earlier revision (bench.sh
	// builds BENCH_BASE's), run with the default configuration beside
	// today's, for before/after figures from the same run.
	if bin := os.Getenv("PKID_BENCH_BASE_PKID"); bin != "" {
		baseCfg := nodeConfig(b, sqliteStore(b, ""))
		initIssuing(b, baseCfg)
		d := startDaemonBin(b, bin, "warn", "serve", "-config", baseCfg, "-listen", "127.0.0.1:0")
		targets = append(targets, target{"pkid-base", d.base, d.cmd.Process.Pid})
	}
	hc := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients},
	}
	defer hc.CloseIdleConnections()
	// Rounds interleave the targets (-count would run each target's
	// repetitions back to back, and the load of a shared machine drifts).
	rounds := 3
	if r, err := strconv.Atoi(os.Getenv("PKID_BENCH_ROUNDS")); err == nil && r > 0 {
		rounds = r
	}
	for round := range rounds * len(targets) {
		tg := targets[round%len(targets)]
		url := tg.url + "/api/v1/cfssl/sign"
		b.Run(tg.name, func(b *testing.B) {
			lat := make([]time.Duration, b.N)
			var (
				next   atomic.Int64
				failed atomic.Bool
				locked atomic.Int64 // CFSSL's SQLite answers "database is locked" under load
				wg     sync.WaitGroup
			)
			b.ResetTimer()
			start := time.Now()
			cpu0 := treeCPU(tg.pid)
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= int64(b.N) && !failed.Load(); n = next.Add(1) {
						t0 := time.Now()
						resp, err := hc.Post(url, "application/json", bytes.NewReader(bodies[(c+int(n))%len(bodies)]))
						if err != nil {
							b.Error(err)
							failed.Store(true)
							return
						}
						data, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						lat[n-1] = time.Since(t0)
						if strings.HasPrefix(tg.name, "cfssl") && bytes.Contains(data, []byte(`"database is locked"`)) {
							// A refused request, counted, not a benchmark
							// failure: it is how cfssl serve behaves here.
							locked.Add(1)
							lat[n-1] = -1
							continue
						}
						if resp.StatusCode != http.StatusOK || !bytes.Contains(data, []byte(`"success":true`)) {
							b.Errorf("%s sign: %d %.300s", tg.name, resp.StatusCode, data)
							failed.Store(true)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			cpu := treeCPU(tg.pid) - cpu0
			b.StopTimer()
			// Throughput and latency of the certificates issued; refusals
			// are reported beside them.
			lat = slices.DeleteFunc(lat, func(d time.Duration) bool { return d < 0 })
			if len(lat) == 0 {
				b.Fatalf("%s: every request was refused", tg.name)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "requests/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(locked.Load())/float64(b.N), "refused/op")
			// Server CPU (daemon and plugin processes) per issued
			// certificate: what a loaded, shared machine skews least.
			b.ReportMetric(cpu.Seconds()*1e6/float64(len(lat)), "server-cpu-us/op")
		})
	}
}

// inprocessConfig sets isolation = "inprocess" on cfg's keystore too (the
// certstore block already carries it).
func inprocessConfig(tb testing.TB, cfg string) string {
	tb.Helper()
	data, err := os.ReadFile(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	out := strings.Replace(string(data), "kdf_work_factor = 10\n", "kdf_work_factor = 10\n  isolation       = \"inprocess\"\n", 1)
	if out == string(data) {
		tb.Fatal("inprocessConfig: keystore block not found")
	}
	writeBenchFile(tb, cfg, out)
	return cfg
}

func writeBenchFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// cfsslCA writes a P-256 root for cfssl serve (certificate, SEC 1 key).
func cfsslCA(tb testing.TB, dir string) (certPath, keyPath string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cfssl bench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cfssl-ca.pem"), filepath.Join(dir, "cfssl-ca-key.pem")
	writeBenchFile(tb, certPath, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeBenchFile(tb, keyPath, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return certPath, keyPath
}

// cfsslCertDB creates path with CFSSL's certdb SQLite schema: the "Up"
// sections of its goose migrations, read from CFSSL 1.6.5's source in the
// module cache (make test and make bench download it).
func cfsslCertDB(tb testing.TB, path string) string {
	tb.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		tb.Fatal(err)
	}
	migrations, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "github.com", "cloudflare", "cfssl@v1.6.5", "certdb", "sqlite", "migrations", "*.sql"))
	if len(migrations) == 0 {
		testtool.Missing(tb, "CFSSL 1.6.5 certdb migrations (go mod download github.com/cloudflare/cfssl@v1.6.5)", os.ErrNotExist)
		return ""
	}
	slices.Sort(migrations)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	for _, m := range migrations {
		data, err := os.ReadFile(m)
		if err != nil {
			tb.Fatal(err)
		}
		up, _, _ := strings.Cut(string(data), "-- +goose Down")
		for _, stmt := range strings.Split(up, ";") {
			if s := strings.TrimSpace(stripSQLComments(stmt)); s != "" {
				if _, err := db.Exec(s); err != nil {
					tb.Fatalf("%s: %v", filepath.Base(m), err)
				}
			}
		}
	}
	return path
}

func stripSQLComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// treeCPU is the user+system CPU time of process pid and its descendants
// (Linux /proc; clock ticks of 10 ms).
func treeCPU(pid int) time.Duration {
	var total time.Duration
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: state is
	// field 3, utime 14, stime 15.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			total += time.Duration(u+s) * 10 * time.Millisecond
		}
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		for _, c := range strings.Fields(string(data)) {
			if cp, err := strconv.Atoi(c); err == nil {
				total += treeCPU(cp)
			}
		}
	}
	return total
}

// startCFSSL runs cfssl serve on a free loopback port and returns its base
// URL once it answers, and its process id.
func startCFSSL(tb testing.TB, cfssl string, args ...string) (string, int) {
	tb.Helper()
	port, err := testtool.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	var logBuf bytes.Buffer
	cmd := exec.Command(cfssl, append([]string{"serve", "-address", "127.0.0.1", "-port", fmt.Sprint(port), "-loglevel", "3"}, args...)...)
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Post(base+"/api/v1/cfssl/info", "application/json", strings.NewReader(`{}`)); err == nil {
			resp.Body.Close()
			return base, cmd.Process.Pid
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("cfssl serve did not start: %s", logBuf.String())
	return "", 0
}
