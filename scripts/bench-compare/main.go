// Command bench-compare is make bench-compare's load generator and meter
// (scripts/bench-compare.sh builds the binaries it compares). It starts
// each target server, sends the same POST /api/v1/cfssl/sign requests from
// closed-loop clients to one target after another (ABAB..., -rounds
// times), and reports per target the medians over rounds of:
//
//   - server CPU per request: user+system time of the server's process
//     tree (daemon and plugin processes, reaped children included, from
//     /proc) divided by the requests it answered. On a machine shared
//     with other work this is the figure to trust: other tenants slow a
//     server down but do not make it spend more CPU per request.
//   - requests/s and p50/p99 latency of the same round: wall-clock
//     figures, which the machine's other load skews (labelled noisy).
//
// Ratios are against the first target, taken per round (the two targets
// of a pair ran back to back) and then the median over rounds.
//
// Targets (-target, repeatable; NAME=KIND:PATH):
//
//	pkid:BIN            BIN serve -dev (keystore and SQLite store as plugin processes)
//	pkid-inprocess:BIN  the same state with both builtins isolation = "inprocess"
//	cfssl:BIN           cfssl serve, no database
//	cfssl-sqlite:BIN    cfssl serve -db-config on SQLite (CFSSL's certdb schema)
//
// -perf DIR records each target's process tree with perf (call graphs)
// over all its rounds into DIR/NAME.data, for perf report.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "modernc.org/sqlite"
)

type targetFlags []string

func (t *targetFlags) String() string     { return strings.Join(*t, ",") }
func (t *targetFlags) Set(v string) error { *t = append(*t, v); return nil }

type options struct {
	targets          targetFlags
	n, rounds        int
	clients, warmup  int
	perfDir, workDir string
	timeout          time.Duration
}

func main() {
	var o options
	flag.Var(&o.targets, "target", "NAME=KIND:PATH (repeatable; KIND pkid, pkid-inprocess, cfssl, cfssl-sqlite); ratios are against the first")
	flag.IntVar(&o.n, "n", 2000, "requests per target per round")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds (each runs every target once, in order)")
	flag.IntVar(&o.clients, "clients", 32, "closed-loop clients")
	flag.IntVar(&o.warmup, "warmup", 300, "requests per target before the first round (not measured)")
	flag.StringVar(&o.perfDir, "perf", "", "record each target's process tree with perf into DIR/NAME.data")
	flag.StringVar(&o.workDir, "dir", "", "state directory (default: a temporary one, removed at the end)")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "bound on the whole run")
	flag.Parse()
	if len(o.targets) == 0 || o.n <= 0 || o.rounds <= 0 || o.clients <= 0 {
		fmt.Fprintln(os.Stderr, "bench-compare: need -target NAME=KIND:PATH (one or more) and positive -n, -rounds, -clients")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-compare:", err)
		os.Exit(1)
	}
}

// server is one running target.
type server struct {
	name, kind string
	url        string
	cmd        *exec.Cmd
	log        *bytes.Buffer
	perf       *exec.Cmd
	done       chan struct{} // closed when cmd has exited and been waited for
}

// round is one target's measurement in one round.
type round struct {
	cpuPerReq     time.Duration // server tree CPU / answered requests
	rate          float64       // requests/s
	p50, p99      time.Duration
	refused, reqs int
}

func run(ctx context.Context, o options, out io.Writer) error {
	dir := o.workDir
	if dir == "" {
		d, err := os.MkdirTemp("", "bench-compare-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	bodies, err := signBodies(8)
	if err != nil {
		return err
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for _, spec := range o.targets {
		s, err := start(ctx, dir, spec)
		if s != nil {
			servers = append(servers, s)
		}
		if err != nil {
			return err
		}
	}
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConns: 2 * o.clients, MaxIdleConnsPerHost: 2 * o.clients}}
	defer hc.CloseIdleConnections()
	for _, s := range servers {
		if _, err := load(ctx, hc, s, bodies, o.warmup, o.clients); err != nil {
			return fmt.Errorf("%s warm-up: %w", s.name, err)
		}
	}
	if o.perfDir != "" {
		if err := os.MkdirAll(o.perfDir, 0o755); err != nil {
			return err
		}
	}
	res := make([][]round, len(servers))
	fmt.Fprintf(out, "bench-compare: %d rounds x %d requests per target, %d clients, P-256 CSRs, POST /api/v1/cfssl/sign; load average %s\n",
		o.rounds, o.n, o.clients, loadavg())
	if o.perfDir != "" {
		// Each target's recording spans the whole run; between its rounds
		// the server idles, which adds few samples.
		for _, s := range servers {
			if err := s.startPerf(o.perfDir); err != nil {
				return err
			}
		}
	}
	for r := range o.rounds {
		for i, s := range servers {
			m, err := load(ctx, hc, s, bodies, o.n, o.clients)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", s.name, r+1, err)
			}
			res[i] = append(res[i], m)
			fmt.Fprintf(out, "round %d %-16s cpu %6.0f us/req  %6.0f req/s  p50 %6.1f ms  p99 %6.1f ms%s\n", r+1, s.name,
				us(m.cpuPerReq), m.rate, ms(m.p50), ms(m.p99), refusedNote(m))
		}
	}
	for _, s := range servers {
		s.stopPerf()
	}
	report(out, servers, res)
	return nil
}

func refusedNote(m round) string {
	if m.refused == 0 {
		return ""
	}
	return fmt.Sprintf("  refused %d (database is locked)", m.refused)
}

func report(out io.Writer, servers []*server, res [][]round) {
	fmt.Fprintf(out, "\n== medians over rounds; ratios per round against %s, then the median\n", servers[0].name)
	fmt.Fprintf(out, "%-16s %12s %10s %10s %10s %12s %14s\n", "target", "cpu us/req", "req/s*", "p50 ms*", "p99 ms*", "cpu ratio", "req/s ratio*")
	for i, s := range servers {
		var cpu, rate, p50, p99, cr, rr []float64
		for r, m := range res[i] {
			cpu = append(cpu, us(m.cpuPerReq))
			rate = append(rate, m.rate)
			p50 = append(p50, ms(m.p50))
			p99 = append(p99, ms(m.p99))
			ref := res[0][r]
			cr = append(cr, float64(m.cpuPerReq)/float64(ref.cpuPerReq))
			rr = append(rr, m.rate/ref.rate)
		}
		fmt.Fprintf(out, "%-16s %12.0f %10.0f %10.1f %10.1f %11.2fx %13.2fx\n", s.name, median(cpu), median(rate), median(p50), median(p99), median(cr), median(rr))
	}
	fmt.Fprintln(out, "(* wall-clock figures: noisy on a shared machine; cpu us/req is the server process tree's CPU per answered request)")
	if len(servers) > 1 {
		fmt.Fprintf(out, "%s per request: %s\n", servers[0].name, strings.Join(func() []string {
			var s []string
			for i := 1; i < len(servers); i++ {
				var cr []float64
				for r := range res[i] {
					cr = append(cr, float64(res[0][r].cpuPerReq)/float64(res[i][r].cpuPerReq))
				}
				s = append(s, fmt.Sprintf("%.2fx the CPU of %s", median(cr), servers[i].name))
			}
			return s
		}(), "; "))
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// load sends n sign requests from clients closed-loop clients and measures
// the server's process tree CPU around them.
func load(ctx context.Context, hc *http.Client, s *server, bodies [][]byte, n, clients int) (round, error) {
	if n <= 0 {
		return round{}, nil
	}
	url := s.url + "/api/v1/cfssl/sign"
	lat := make([]time.Duration, n)
	var (
		next     atomic.Int64
		refused  atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	cpu0 := treeCPU(s.cmd.Process.Pid)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for k := next.Add(1); k <= int64(n); k = next.Add(1) {
				if ctx.Err() != nil {
					fail(ctx.Err())
					return
				}
				t0 := time.Now()
				resp, err := hc.Post(url, "application/json", bytes.NewReader(bodies[(c+int(k))%len(bodies)]))
				if err != nil {
					fail(err)
					return
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[k-1] = time.Since(t0)
				if s.kind == "cfssl-sqlite" && bytes.Contains(data, []byte(`"database is locked"`)) {
					// How cfssl serve with SQLite behaves under load: a
					// refusal, counted, not issued.
					refused.Add(1)
					lat[k-1] = -1
					continue
				}
				if resp.StatusCode != http.StatusOK || !bytes.Contains(data, []byte(`"success":true`)) {
					fail(fmt.Errorf("sign: %d %.300s", resp.StatusCode, data))
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := treeCPU(s.cmd.Process.Pid) - cpu0
	if firstErr != nil {
		return round{}, firstErr
	}
	lat = slices.DeleteFunc(lat, func(d time.Duration) bool { return d < 0 })
	if len(lat) == 0 {
		return round{}, errors.New("every request was refused")
	}
	slices.Sort(lat)
	return round{
		cpuPerReq: cpu / time.Duration(len(lat)),
		rate:      float64(len(lat)) / elapsed.Seconds(),
		p50:       lat[len(lat)/2],
		p99:       lat[len(lat)*99/100],
		refused:   int(refused.Load()),
		reqs:      len(lat),
	}, nil
}

// clockTick is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// treeCPU is the user+system CPU time of process pid and all its
// descendants: each live process's own time plus what it has reaped of
// its children's (cutime, cstime), so a plugin process that exited and was
// waited for still counts once.
func treeCPU(pid int) time.Duration {
	var total time.Duration
	for _, p := range tree(pid) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		// Fields after the command name (in parentheses, which may hold
		// spaces): utime is field 14, stime 15, cutime 16, cstime 17.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 15 {
			continue
		}
		for _, k := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseInt(f[k], 10, 64)
			total += time.Duration(v) * clockTick
		}
	}
	return total
}

// tree is pid and its live descendants (Linux /proc/PID/task/*/children).
func tree(pid int) []int {
	out := []int{pid}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		for _, c := range strings.Fields(string(data)) {
			if cp, err := strconv.Atoi(c); err == nil {
				out = append(out, tree(cp)...)
			}
		}
	}
	return out
}

// startPerf records the server's process tree (daemon and plugins) with
// call graphs into DIR/NAME.data.
func (s *server) startPerf(dir string) error {
	var ps []string
	for _, p := range tree(s.cmd.Process.Pid) {
		ps = append(ps, strconv.Itoa(p))
	}
	s.perf = exec.Command("perf", "record", "-q", "-F", "499", "-g", "-p", strings.Join(ps, ","), "-o", filepath.Join(dir, s.name+".data"))
	s.perf.Stderr = os.Stderr
	if err := s.perf.Start(); err != nil {
		return fmt.Errorf("perf: %w", err)
	}
	time.Sleep(300 * time.Millisecond) // perf attaches
	return nil
}

func (s *server) stopPerf() {
	if s.perf == nil {
		return
	}
	s.perf.Process.Signal(os.Interrupt)
	s.perf.Wait()
	s.perf = nil
}

func (s *server) stop() {
	s.stopPerf()
	if s.cmd != nil && s.done != nil {
		// SIGTERM first: pkid stops its plugin processes on the way out.
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
}

// start parses NAME=KIND:PATH and starts that server under dir/NAME.
func start(ctx context.Context, dir, spec string) (*server, error) {
	name, rest, ok := strings.Cut(spec, "=")
	kind, bin, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || name == "" || bin == "" {
		return nil, fmt.Errorf("-target %q: want NAME=KIND:PATH", spec)
	}
	sdir := filepath.Join(dir, name)
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{name: name, kind: kind, url: fmt.Sprintf("http://127.0.0.1:%d", port), log: &bytes.Buffer{}}
	var args []string
	switch kind {
	case "pkid", "pkid-inprocess":
		state := filepath.Join(sdir, "state")
		if kind == "pkid-inprocess" {
			// First start creates the state and configuration; then both
			// builtins move into the daemon's process.
			first := &server{name: name + "-init", kind: kind, url: s.url, log: &bytes.Buffer{}}
			if err := first.launch(ctx, bin, "serve", "-dev", "-state", state, "-listen", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
				return nil, err
			}
			first.stop()
			if err := inprocess(filepath.Join(state, "pkid-dev.hcl")); err != nil {
				return nil, err
			}
		}
		args = []string{"serve", "-dev", "-state", state, "-listen", fmt.Sprintf("127.0.0.1:%d", port)}
	case "cfssl", "cfssl-sqlite":
		certPath, keyPath, err := cfsslCA(sdir)
		if err != nil {
			return nil, err
		}
		cfg := filepath.Join(sdir, "cfssl.json")
		if err := os.WriteFile(cfg, []byte(`{"signing":{"default":{"usages":["digital signature","key encipherment","server auth"],"expiry":"2160h"},
"profiles":{"server":{"usages":["digital signature","key encipherment","server auth"],"expiry":"2160h"}}}}`), 0o600); err != nil {
			return nil, err
		}
		args = []string{"serve", "-address", "127.0.0.1", "-port", strconv.Itoa(port), "-loglevel", "3", "-ca", certPath, "-ca-key", keyPath, "-config", cfg}
		if kind == "cfssl-sqlite" {
			db, err := cfsslCertDB(filepath.Join(sdir, "certdb.sqlite"))
			if err != nil {
				return nil, err
			}
			dbCfg := filepath.Join(sdir, "db.json")
			j, _ := json.Marshal(map[string]string{"driver": "sqlite3", "data_source": db})
			if err := os.WriteFile(dbCfg, j, 0o600); err != nil {
				return nil, err
			}
			args = append(args, "-db-config", dbCfg)
		}
	default:
		return nil, fmt.Errorf("-target %q: unknown kind %q (pkid, pkid-inprocess, cfssl, cfssl-sqlite)", spec, kind)
	}
	return s, s.launch(ctx, bin, args...)
}

// launch runs bin and waits until the server answers /info.
func (s *server) launch(ctx context.Context, bin string, args ...string) error {
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = append(os.Environ(), "PKID_LOG_LEVEL=warn")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	exited := s.done
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := http.Post(s.url+"/api/v1/cfssl/info", "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited: %s", s.name, s.log.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer within 60 s: %s", s.name, s.log.String())
}

// inprocess sets isolation = "inprocess" on the dev configuration's
// keystore and certstore blocks.
func inprocess(cfg string) error {
	data, err := os.ReadFile(cfg)
	if err != nil {
		return err
	}
	s := string(data)
	for _, block := range []string{`keystore "file" "dev" {`, `certstore "sqlite" "main" {`} {
		if !strings.Contains(s, block) {
			return fmt.Errorf("%s: block %s not found", cfg, block)
		}
		s = strings.Replace(s, block, block+"\n  isolation = \"inprocess\"", 1)
	}
	return os.WriteFile(cfg, []byte(s), 0o600)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// signBodies makes n sign requests (distinct P-256 keys and names) for the
// server profile; clients reuse them round robin.
func signBodies(n int) ([][]byte, error) {
	var out [][]byte
	for i := range n {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("node%d.bench.example.com", i)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, key)
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(map[string]string{
			"certificate_request": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
			"profile":             "server",
		})
		if err != nil {
			return nil, err
		}
		out = append(out, body)
	}
	return out, nil
}

// cfsslCA writes a P-256 root for cfssl serve (certificate, SEC 1 key).
func cfsslCA(dir string) (certPath, keyPath string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench-compare CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certPath, keyPath = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	return certPath, keyPath, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
}

// cfsslCertDB creates path with CFSSL's certdb SQLite schema: the "Up"
// sections of its goose migrations from CFSSL 1.6.5's source in the module
// cache (CFSSL_MIGRATIONS overrides the directory).
func cfsslCertDB(path string) (string, error) {
	dir := os.Getenv("CFSSL_MIGRATIONS")
	if dir == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return "", fmt.Errorf("go env GOMODCACHE: %w", err)
		}
		dir = filepath.Join(strings.TrimSpace(string(out)), "github.com", "cloudflare", "cfssl@v1.6.5", "certdb", "sqlite", "migrations")
	}
	migrations, _ := filepath.Glob(filepath.Join(dir, "*.sql"))
	if len(migrations) == 0 {
		return "", fmt.Errorf("no CFSSL certdb migrations in %s (go mod download github.com/cloudflare/cfssl@v1.6.5)", dir)
	}
	slices.Sort(migrations)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	for _, m := range migrations {
		data, err := os.ReadFile(m)
		if err != nil {
			return "", err
		}
		up, _, _ := strings.Cut(string(data), "-- +goose Down")
		for _, stmt := range strings.Split(up, ";") {
			var b strings.Builder
			for _, line := range strings.Split(stmt, "\n") {
				if !strings.HasPrefix(strings.TrimSpace(line), "--") {
					b.WriteString(line + "\n")
				}
			}
			if s := strings.TrimSpace(b.String()); s != "" {
				if _, err := db.Exec(s); err != nil {
					return "", fmt.Errorf("%s: %w", filepath.Base(m), err)
				}
			}
		}
	}
	return path, nil
}
