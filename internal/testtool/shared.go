package testtool

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is a throwaway server a test package starts (pgtest, mysqltest).
type Server interface{ Close() error }

// SharedServer is one server per test binary, started on first use and
// stopped after the package's tests: databases are cheap, servers are not.
type SharedServer[S Server] struct {
	// Pkg names the package in messages ("pgtest").
	Pkg string
	// Start starts a server. Errors wrapping NotInstalled mean the server
	// software is missing (see Missing); others fail the test.
	Start        func() (S, error)
	NotInstalled error

	once    sync.Once
	s       S
	err     error
	inMain  atomic.Bool
	started atomic.Bool
}

// Run runs the package's tests and then stops the server if one was
// started; it returns the exit code, turned to 1 when stopping fails.
func (sh *SharedServer[S]) Run(m interface{ Run() int }) int {
	sh.inMain.Store(true)
	code := m.Run()
	if sh.started.Load() {
		if err := sh.s.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Get returns the server, starting it on first use. The package's TestMain
// must go through Run, which stops it.
func (sh *SharedServer[S]) Get(t testing.TB) S {
	t.Helper()
	if !sh.inMain.Load() {
		t.Fatalf("%s: Shared needs the package's TestMain to call %s.Main(m) or %s.Run", sh.Pkg, sh.Pkg, sh.Pkg)
	}
	sh.once.Do(func() {
		sh.s, sh.err = sh.Start()
		sh.started.Store(sh.err == nil)
	})
	if sh.err != nil {
		sh.fail(t, sh.err)
	}
	return sh.s
}

// New starts a private server for t, closed at t.Cleanup.
func (sh *SharedServer[S]) New(t testing.TB) S {
	t.Helper()
	s, err := sh.Start()
	if err != nil {
		sh.fail(t, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("%s: %v", sh.Pkg, err)
		}
	})
	return s
}

// fail skips t when the server software is missing outside CI (Missing)
// and fails it for every other error.
func (sh *SharedServer[S]) fail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, sh.NotInstalled) {
		Missing(t, sh.Pkg+" server", err)
	}
	t.Fatal(err)
}
