// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb into
// a temporary directory (as user postgres when running as root), a server
// on its own port on 127.0.0.1, stopped and removed when the tests end. No
// manual setup: it finds the server binaries under /usr/lib/postgresql.
//
// A test binary shares one cluster (Shared) and each test gets its own
// database (NewDatabase). Tests that stop and start the server use a
// private cluster (New). When PostgreSQL is not installed a test is skipped,
// or fails under CI=true.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.Shared(t).NewDatabase(t)
//		...
//	}
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled reports that no PostgreSQL server binaries were found.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin")

// binGlob is where Debian and Ubuntu install the server binaries.
var binGlob = "/usr/lib/postgresql/*/bin"

// Cluster is one running (or stopped) throwaway PostgreSQL server.
type Cluster struct {
	bin  string // directory holding initdb and pg_ctl
	dir  string // temporary root: socket directory, log file, data/
	port int
	// asPostgres runs server commands through runuser as user postgres,
	// since PostgreSQL refuses to run as root.
	asPostgres bool
	watchdog   *os.Process

	mu      sync.Mutex
	running bool
	dbs     atomic.Int64
}

// Start options shared by every cluster: fsync stays on (durability tests
// measure real commits); enough connections for parallel test pools.
const serverOptions = "-c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=300 " +
	"-c shared_buffers=32MB -c log_min_messages=warning"

// FindBin returns the newest PostgreSQL bin directory holding initdb and
// pg_ctl. Errors: ErrNotInstalled.
func FindBin() (string, error) {
	dirs, _ := filepath.Glob(binGlob)
	// Newest major version first (numeric, so 15 sorts after 9.6).
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start creates and starts a new cluster. The caller stops it with Close.
// Errors: ErrNotInstalled, or initdb/pg_ctl failures with their output.
func Start() (*Cluster, error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, asPostgres: os.Geteuid() == 0}
	c.dir, err = os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := c.initdb(); err != nil {
		os.RemoveAll(c.dir)
		return nil, err
	}
	// A port found free may be taken before the server binds it (another
	// test binary); try a few.
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err == nil {
			if err = c.Start(); err == nil {
				break
			}
		}
		if attempt == 2 {
			os.RemoveAll(c.dir)
			return nil, err
		}
	}
	c.startWatchdog()
	return c, nil
}

var shared = &testtool.SharedServer[*Cluster]{Pkg: "pgtest", Start: Start, NotInstalled: ErrNotInstalled}

// New starts a private server for t, closed at t.Cleanup. It skips t (or
// fails it under CI=true) when the server is not installed.
func New(t testing.TB) *Cluster { t.Helper(); return shared.New(t) }

// Main runs the tests of a package that uses Shared and then stops the
// shared server. Call it from TestMain; it does not return.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain that wraps the run (testscript.Main): it
// returns the exit code instead of exiting.
func Run(m interface{ Run() int }) int { return shared.Run(m) }

// Shared returns the test binary's server, starting it on first use. The
// package's TestMain must call Main (or Run), which stops it. It skips t
// (or fails it under CI=true) when the server is not installed.
func Shared(t testing.TB) *Cluster { t.Helper(); return shared.Get(t) }

// Port is the server's TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Dir is the cluster's temporary directory (socket, log, data/).
func (c *Cluster) Dir() string { return c.dir }

// DSN returns the URL of database db as user postgres (trust auth).
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// NewDatabase creates an empty database named after t and returns its DSN.
// The database lives as long as the cluster.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", c.dbs.Add(1), sanitize(t.Name()))
	if err := c.CreateDatabase(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return c.DSN(name)
}

// CreateDatabase creates database name (an SQL identifier is quoted).
// Errors: connection or SQL errors.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return nil
}

// sanitize keeps a database name short and plain.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 48 {
			break
		}
	}
	return b.String()
}

// Start starts the (stopped) server and waits until it accepts
// connections. Errors: pg_ctl failures, with the server log's tail.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return nil
	}
	opts := fmt.Sprintf("-p %d -k %s %s", c.port, c.dir, serverOptions)
	if _, err := c.run("pg_ctl", "-D", c.data(), "-l", c.logFile(), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("%w\nserver log:\n%s", err, c.logTail())
	}
	c.running = true
	return nil
}

// Stop shuts the server down (fast mode: open sessions are terminated with
// admin_shutdown) and waits until it has exited. Errors: pg_ctl failures.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	if _, err := c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return err
	}
	c.running = false
	return nil
}

// Restart stops and starts the server on the same port.
func (c *Cluster) Restart() error {
	if err := c.Stop(); err != nil {
		return err
	}
	return c.Start()
}

// Close stops the server and removes its directory. It stops in immediate
// mode: a shutdown checkpoint would fsync every test database only for the
// directory to be removed.
func (c *Cluster) Close() error {
	c.mu.Lock()
	var err error
	if c.running {
		if _, err = c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "-t", "60", "stop"); err == nil {
			c.running = false
		}
	}
	c.mu.Unlock()
	if c.watchdog != nil {
		_ = c.watchdog.Kill()
		_, _ = c.watchdog.Wait()
	}
	if rerr := os.RemoveAll(c.dir); err == nil {
		err = rerr
	}
	return err
}

func (c *Cluster) data() string    { return filepath.Join(c.dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.dir, "server.log") }

// initdb creates the data directory, owned by postgres when running as root.
func (c *Cluster) initdb() error {
	if c.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("pgtest: running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(c.dir, uid, gid); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	if err := os.Chmod(c.dir, 0o700); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	// --no-sync: the throwaway cluster's initial files need no fsync; the
	// running server keeps fsync on.
	_, err := c.run("initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync")
	return err
}

// run runs a server binary, as postgres when running as root.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("pgtest: %s %s: %w\n%s", name, strings.Join(args, " "), err, out.Bytes())
	}
	return out.Bytes(), nil
}

// logTail returns the last lines of the server log.
func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(c.logFile())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// startWatchdog starts a shell, in its own process group, that stops the
// server and removes the directory once this process is gone, so a test
// binary killed by a timeout or a signal leaves no server behind. Close
// kills it first. Failure to start it is not an error.
func (c *Cluster) startWatchdog() {
	stop := fmt.Sprintf("%s -D %s -m immediate stop", filepath.Join(c.bin, "pg_ctl"), c.data())
	if c.asPostgres {
		stop = "runuser -u postgres -- " + stop
	}
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; %s >/dev/null 2>&1; rm -rf %s",
		os.Getpid(), stop, c.dir)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err == nil {
		c.watchdog = cmd.Process
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) { return testtool.FreePort() }
