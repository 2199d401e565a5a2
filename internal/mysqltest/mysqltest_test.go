package mysqltest

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
)

func TestMain(m *testing.M) { Main(m) }

func query(t *testing.T, dsn string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var (
		n  int
		in string
	)
	if err := db.QueryRowContext(ctx, "SELECT 41 + 1, DATABASE()").Scan(&n, &in); err != nil {
		t.Fatalf("query over %s: %v", dsn, err)
	}
	return n, in
}

// TestSharedDatabases: one server per binary, a database per call, reached
// over TCP on 127.0.0.1 with the password.
func TestSharedDatabases(t *testing.T) {
	s := Shared(t)
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share a DSN: %s", a)
	}
	if Shared(t) != s {
		t.Fatal("Shared started a second server")
	}
	for _, dsn := range []string{a, b} {
		if !strings.Contains(dsn, "tcp(127.0.0.1:") || !strings.Contains(dsn, Password) {
			t.Fatalf("DSN %s is not TCP on 127.0.0.1 with the password", dsn)
		}
		n, db := query(t, dsn)
		if n != 42 || !strings.HasPrefix(db, "t") || !strings.HasSuffix(db, "testshareddatabases") {
			t.Fatalf("query = %d in %q", n, db)
		}
	}
	// The password is required: without it the server refuses.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, _ := sql.Open("mysql", strings.Replace(a, ":"+Password+"@", "@", 1))
	defer db.Close()
	if err := db.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "Access denied") {
		t.Fatalf("connecting without the password: %v, want access denied", err)
	}
}

// TestCloseRemovesEverything: a private server stops, its process is gone
// and its directory removed.
func TestCloseRemovesEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s, err := Start()
	if err != nil {
		if errors.Is(err, ErrNotInstalled) {
			testtool.Missing(t, "mysqltest server", err)
		}
		t.Fatal(err)
	}
	dsn := s.NewDatabase(t)
	query(t, dsn)
	dir, pid := s.dir, s.cmd.Process.Pid
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists: %v", dir, err)
	}
	if _, err := os.Stat("/proc/" + itoa(pid)); !os.IsNotExist(err) {
		t.Fatalf("server process %d still exists", pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, _ := sql.Open("mysql", dsn)
	defer db.Close()
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("the closed server still answers")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestNotInstalled: without the server binaries Start says so, and a test
// needing them is skipped, or fails under CI=true.
func TestNotInstalled(t *testing.T) {
	saved := searchPath
	searchPath = []string{t.TempDir()}
	defer func() { searchPath = saved }()
	if _, err := Start(); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start without binaries: %v, want ErrNotInstalled", err)
	}
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		ft := &fakeT{}
		done := make(chan struct{})
		go func() { defer close(done); New(ft) }()
		<-done
		if ci == "true" && (!ft.failed || ft.skipped) || ci == "" && (!ft.skipped || ft.failed) {
			t.Errorf("CI=%q: failed %v skipped %v", ci, ft.failed, ft.skipped)
		}
	}
}

// fakeT records how New ends a test; both end the goroutine as the
// testing package does.
type fakeT struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Fatal(...any)          { f.failed = true; runtime.Goexit() }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true; runtime.Goexit() }
func (f *fakeT) Skipf(string, ...any)  { f.skipped = true; runtime.Goexit() }

func TestSanitize(t *testing.T) {
	if got := sanitize("TestX/Sub_Test-1"); got != "testx_sub_test_1" {
		t.Fatalf("sanitize = %q", got)
	}
	if got := sanitize(string(make([]byte, 100))); len(got) != 48 {
		t.Fatalf("sanitize kept %d characters, want 48", len(got))
	}
}
