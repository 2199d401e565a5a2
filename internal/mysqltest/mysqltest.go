// Package mysqltest starts a throwaway MariaDB (or MySQL-compatible) server
// for tests: mariadb-install-db into a temporary directory, mariadbd on its
// own port on 127.0.0.1 (as user mysql when running as root, since the
// server refuses root), stopped and removed when the tests end. No manual
// setup beyond the Debian package mariadb-server, which make test installs.
//
// A test binary shares one server (Shared) and each test gets its own
// database (NewDatabase). When MariaDB is not installed a test is skipped,
// or fails under CI=true.
//
//	func TestMain(m *testing.M) { mysqltest.Main(m) }
//
//	func TestX(t *testing.T) {
//		dsn := mysqltest.Shared(t).NewDatabase(t)
//		...
//	}
package mysqltest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"

	"github.com/go-sql-driver/mysql"
)

// ErrNotInstalled reports that no MariaDB server binaries were found.
var ErrNotInstalled = errors.New("mysqltest: MariaDB server binaries (mariadbd, mariadb-install-db) not found (apt-get install mariadb-server)")

// User and Password are the account tests connect as over TCP. The
// password is not empty so that tests can check it never reaches an error
// message.
const (
	User     = "pkid"
	Password = "mysqltest-Secret-9f3e"
)

// searchPath is where Debian installs the server binaries (mariadbd lives
// in /usr/sbin).
var searchPath = []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}

// Server is one running throwaway MariaDB server.
type Server struct {
	dir  string // temporary root: data/, socket, log
	port int
	// admin is the account reached over the socket by unix_socket
	// authentication: the OS user running the tests (root, or whoever
	// ran mariadb-install-db).
	admin string
	cmd   *exec.Cmd
	done  chan struct{} // closed when the server process has exited
	// waitErr is the server's exit status, set before done is closed.
	waitErr  error
	watchdog *os.Process
	dbs      atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// findBin returns the path of the first of names found on searchPath.
func findBin(names ...string) (string, error) {
	for _, n := range names {
		for _, d := range searchPath {
			p := filepath.Join(d, n)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", ErrNotInstalled
}

// Start creates and starts a new server; the caller stops it with Close.
// Errors: ErrNotInstalled, or install/start failures with their output.
func Start() (*Server, error) {
	server, err := findBin("mariadbd", "mysqld")
	if err != nil {
		return nil, err
	}
	install, err := findBin("mariadb-install-db", "mysql_install_db")
	if err != nil {
		return nil, err
	}
	s := &Server{admin: "root"}
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("mysqltest: %w", err)
		}
		s.admin = u.Username
	}
	if s.dir, err = os.MkdirTemp("", "mysqltest-"); err != nil {
		return nil, fmt.Errorf("mysqltest: %w", err)
	}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(s.dir)
		return nil, err
	}
	runAs := ""
	if os.Geteuid() == 0 {
		// mariadbd refuses to run as root; --user=mysql makes it (and
		// the install script) switch to the mysql user, which must
		// own the directory.
		u, err := user.Lookup("mysql")
		if err != nil {
			return fail(fmt.Errorf("mysqltest: running as root needs a mysql user: %w", err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return fail(fmt.Errorf("mysqltest: %w", err))
		}
		runAs = "--user=mysql"
	}
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return fail(fmt.Errorf("mysqltest: %w", err))
	}
	args := []string{"--no-defaults", "--datadir=" + s.data(), "--auth-root-authentication-method=socket",
		"--skip-test-db", "--skip-name-resolve"}
	if runAs != "" {
		args = append(args, runAs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, install, args...)
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fail(fmt.Errorf("mysqltest: %s: %w\n%s", filepath.Base(install), err, out.Bytes()))
	}
	// A port found free may be taken before the server binds it (another
	// test binary); try a few.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err == nil {
			if err = s.start(server, runAs); err == nil {
				break
			}
		}
		if attempt == 2 {
			return fail(err)
		}
	}
	s.startWatchdog()
	if err := s.createUser(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// start runs mariadbd and waits until it accepts connections on its
// socket. Errors: the server exited or did not become ready in a minute,
// with the log's tail.
func (s *Server) start(server, runAs string) error {
	args := []string{"--no-defaults", "--datadir=" + s.data(), "--socket=" + s.Socket(),
		"--port=" + strconv.Itoa(s.port), "--bind-address=127.0.0.1", "--pid-file=" + filepath.Join(s.dir, "mariadbd.pid"),
		"--log-error=" + s.logFile(), "--skip-name-resolve", "--skip-log-bin", "--max-connections=300",
		// Throwaway data: small buffers, and commits need not reach the
		// disk (a crash loses the directory anyway).
		"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M", "--innodb-flush-log-at-trx-commit=2",
		"--innodb-doublewrite=0", "--skip-performance-schema"}
	if runAs != "" {
		args = append(args, runAs)
	}
	cmd := exec.Command(server, args...)
	cmd.Dir = s.dir
	// Its own process group: a ^C to the test run reaches the test binary,
	// which stops the server in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mysqltest: %s: %w", filepath.Base(server), err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { s.waitErr = cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(time.Minute)
	for {
		err := s.ping()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("mysqltest: %s exited: %v\nserver log:\n%s", filepath.Base(server), s.waitErr, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("mysqltest: %s not ready after a minute: %v\nserver log:\n%s", filepath.Base(server), err, s.logTail())
		}
	}
}

// rootDSN connects as the administrator over the unix socket (socket
// authentication).
func (s *Server) rootDSN(db string) string {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = s.admin, "unix", s.Socket(), db
	c.Timeout = 5 * time.Second
	return c.FormatDSN()
}

func (s *Server) ping() error {
	db, err := sql.Open("mysql", s.rootDSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// exec runs statements as the administrator.
func (s *Server) exec(ctx context.Context, stmts ...string) error {
	db, err := sql.Open("mysql", s.rootDSN(""))
	if err != nil {
		return fmt.Errorf("mysqltest: %w", err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mysqltest: %s: %w", q, err)
		}
	}
	return nil
}

// createUser creates the TCP account tests use.
func (s *Server) createUser() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.exec(ctx,
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", User, Password),
		fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'127.0.0.1'", User))
}

var shared = &testtool.SharedServer[*Server]{Pkg: "mysqltest", Start: Start, NotInstalled: ErrNotInstalled}

// New starts a private server for t, closed at t.Cleanup. It skips t (or
// fails it under CI=true) when the server is not installed.
func New(t testing.TB) *Server { t.Helper(); return shared.New(t) }

// Main runs the tests of a package that uses Shared and then stops the
// shared server. Call it from TestMain; it does not return.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain that wraps the run (testscript.Main): it
// returns the exit code instead of exiting.
func Run(m interface{ Run() int }) int { return shared.Run(m) }

// Shared returns the test binary's server, starting it on first use. The
// package's TestMain must call Main (or Run), which stops it. It skips t
// (or fails it under CI=true) when the server is not installed.
func Shared(t testing.TB) *Server { t.Helper(); return shared.Get(t) }

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Socket is the server's unix socket.
func (s *Server) Socket() string { return filepath.Join(s.dir, "mariadbd.sock") }

// DSN returns the go-sql-driver/mysql DSN of database db as User over TCP,
// with parseTime=true as CFSSL's certdb requires.
func (s *Server) DSN(db string) string {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = User, Password, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), db
	c.ParseTime = true
	return c.FormatDSN()
}

// NewDatabase creates an empty database named after t and returns its DSN.
// The database lives as long as the server.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", s.dbs.Add(1), sanitize(t.Name()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		t.Fatal(err)
	}
	return s.DSN(name)
}

// sanitize keeps a database name short (MariaDB allows 64) and plain.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if b.Len() >= 48 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// stop terminates the server (SIGTERM: a clean shutdown) and waits for it,
// killing it after 30 s.
func (s *Server) stop() error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("mysqltest: the server did not stop in 30 s; killed")
	}
	return nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		err := s.stop()
		if s.watchdog != nil {
			_ = s.watchdog.Kill()
			_, _ = s.watchdog.Wait()
		}
		if rerr := os.RemoveAll(s.dir); err == nil {
			err = rerr
		}
		s.closeErr = err
	})
	return s.closeErr
}

func (s *Server) data() string    { return filepath.Join(s.dir, "data") }
func (s *Server) logFile() string { return filepath.Join(s.dir, "server.log") }

// logTail returns the last lines of the server log.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logFile())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// startWatchdog starts a shell, in its own process group, that kills the
// server and removes the directory once this process is gone, so a test
// binary killed by a timeout or a signal leaves no server behind. Close
// kills it first. Failure to start it is not an error.
func (s *Server) startWatchdog() {
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; kill -9 %d 2>/dev/null; sleep 1; rm -rf %s",
		os.Getpid(), s.cmd.Process.Pid, s.dir)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err == nil {
		s.watchdog = cmd.Process
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) { return testtool.FreePort() }
