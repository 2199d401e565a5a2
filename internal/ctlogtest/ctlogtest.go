// Package ctlogtest starts real Certificate Transparency logs for tests:
// Sunlight (filippo.io/sunlight, the release pinned in sunlight/go.mod),
// on 127.0.0.1 over plain HTTP with its data in a temporary directory.
//
// The binary is built once per machine (go build -mod=mod in the sunlight
// module; it needs cgo and takes about a minute on two cores) and cached
// under bin/, next to the CFSSL oracles. A Sunlight that cannot be built
// skips the test, and fails it under CI=true (testtool.Missing).
package ctlogtest

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
	_ "modernc.org/sqlite" // the checkpoint database Sunlight expects to exist
)

// SunlightVersion is the release sunlight/go.mod requires.
const SunlightVersion = "v0.8.1"

// DefaultPeriod is the sequencing period the logs run with: Sunlight
// answers add-chain once the entry is sequenced, so this bounds an SCT's
// latency from below.
const DefaultPeriod = 50 * time.Millisecond

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// moduleDir is the directory of this source file's sunlight module.
func moduleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "sunlight")
}

// Binary returns the Sunlight binary, building it on first use. Missing
// toolchain or build failure: testtool.Missing (skip, or fail under
// CI=true).
func Binary(t testing.TB) string {
	t.Helper()
	p, err := BuildBinary()
	if err != nil {
		testtool.Missing(t, "Sunlight "+SunlightVersion, err)
	}
	return p
}

// BuildBinary returns the Sunlight binary, building it once per process
// (and once per machine: it is cached in bin/).
func BuildBinary() (string, error) {
	buildOnce.Do(func() { binPath, buildErr = build() })
	return binPath, buildErr
}

// Missing reports err from Start or BuildBinary to t: a Sunlight that
// cannot be built skips the test, and fails it under CI=true.
func Missing(t testing.TB, err error) {
	t.Helper()
	testtool.Missing(t, "Sunlight "+SunlightVersion, err)
}

func build() (string, error) {
	mod := moduleDir()
	repo := filepath.Dir(filepath.Dir(filepath.Dir(mod))) // internal/ctlogtest/sunlight -> repo
	out := filepath.Join(repo, "bin", "sunlight-"+SunlightVersion)
	if st, err := os.Stat(out); err == nil && st.Mode().IsRegular() {
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	// Test packages run in parallel: one builds, the others wait.
	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	tmp := out + ".tmp"
	cmd := exec.Command(goBin, "build", "-mod=mod", "-o", tmp, "filippo.io/sunlight/cmd/sunlight")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=1", "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build filippo.io/sunlight/cmd/sunlight: %v\n%s", err, b)
	}
	return out, os.Rename(tmp, out)
}

// Config is one log to start.
type Config struct {
	// Roots are the accepted roots (PEM certificates are written for
	// Sunlight); a chain must end at one of them.
	Roots []*x509.Certificate
	// NotAfterStart and NotAfterLimit are the log's temporal shard
	// (defaults: a year back, ten years on).
	NotAfterStart, NotAfterLimit time.Time
	// Period is the sequencing period (default DefaultPeriod).
	Period time.Duration
	// Name is the log's short name (default "testlog").
	Name string
}

// Log is a running Sunlight log.
type Log struct {
	// URL is the submission prefix (POST URL + "/ct/v1/add-pre-chain").
	URL string
	// KeyDER is the log's public key (SubjectPublicKeyInfo).
	KeyDER []byte
	Period time.Duration
	// Dir holds the log's data.
	Dir string

	stderr *lockedWriter
	stop   func()
	once   sync.Once
}

// StartSunlight starts a Sunlight log on 127.0.0.1 and stops it when the
// test ends.
func StartSunlight(t testing.TB, c Config) *Log {
	t.Helper()
	if _, err := BuildBinary(); err != nil {
		Missing(t, err)
	}
	l, err := Start(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// Start starts a Sunlight log on 127.0.0.1 with its data in a new
// temporary directory; Close stops it and removes the directory.
func Start(c Config) (*Log, error) {
	bin, err := BuildBinary()
	if err != nil {
		return nil, err
	}
	if c.Period == 0 {
		c.Period = DefaultPeriod
	}
	if c.Name == "" {
		c.Name = "testlog"
	}
	if c.NotAfterStart.IsZero() {
		c.NotAfterStart = time.Now().AddDate(-1, 0, 0)
	}
	if c.NotAfterLimit.IsZero() {
		c.NotAfterLimit = time.Now().AddDate(10, 0, 0)
	}
	dir, err := os.MkdirTemp("", "sunlight-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Log, error) {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("ctlogtest: %w", err)
	}
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seed.bin"), seed, 0o600); err != nil {
		return fail(err)
	}
	var roots []byte
	for _, r := range c.Roots {
		roots = append(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})...)
	}
	if err := os.WriteFile(filepath.Join(dir, "roots.pem"), roots, 0o644); err != nil {
		return fail(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "checkpoints.db"))
	if err != nil {
		return fail(err)
	}
	_, err = db.Exec("CREATE TABLE checkpoints (logID BLOB PRIMARY KEY, body BLOB NOT NULL) STRICT")
	db.Close()
	if err != nil {
		return fail(err)
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	// Sunlight routes by host and path and wants an https:// prefix; it
	// serves plain HTTP (h2c) without ACME, and Go's mux matches the
	// host without its port.
	cfg := fmt.Sprintf(`listen: [%q]
checkpoints: %q
logs:
  - shortname: %q
    inception: %q
    period: %d
    submissionprefix: "https://127.0.0.1/%s"
    monitoringprefix: "http://%s/%s-monitor"
    roots: %q
    secret: %q
    cache: %q
    localdirectory: %q
    notafterstart: %q
    notafterlimit: %q
`, host, filepath.Join(dir, "checkpoints.db"), c.Name, time.Now().Format(time.DateOnly), c.Period.Milliseconds(),
		c.Name, host, c.Name, filepath.Join(dir, "roots.pem"), filepath.Join(dir, "seed.bin"),
		filepath.Join(dir, "cache.db"), filepath.Join(dir, "data"),
		c.NotAfterStart.UTC().Format(time.RFC3339), c.NotAfterLimit.UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(dir, "sunlight.yaml"), []byte(cfg), 0o644); err != nil {
		return fail(err)
	}
	stderr := &lockedWriter{}
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "sunlight.yaml"))
	cmd.Dir = dir
	cmd.Stdout = io.Discard
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	l := &Log{URL: "http://" + host + "/" + c.Name, Period: c.Period, Dir: dir, stderr: stderr}
	l.stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		key, err := fetchKey(ctx, l.URL+"/log.v3.json")
		if err == nil {
			l.KeyDER = key
			return l, nil
		}
		select {
		case werr := <-exited:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("ctlogtest: sunlight exited: %v\n%s", werr, stderr)
		case <-ctx.Done():
			l.Close()
			return nil, fmt.Errorf("ctlogtest: sunlight did not start within 30s: %v\n%s", err, stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops the log and removes its directory.
func (l *Log) Close() { l.once.Do(l.stop) }

// Output is the log's standard error so far.
func (l *Log) Output() string { return l.stderr.String() }

func fetchKey(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(resp.Status)
	}
	var info struct {
		Key []byte `json:"key"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&info); err != nil {
		return nil, err
	}
	if len(info.Key) == 0 {
		return nil, errors.New("no key in log.v3.json")
	}
	return info.Key, nil
}

func freePort() (int, error) { return testtool.FreePort() }

// lockedWriter keeps the first MiB of a process's output.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
