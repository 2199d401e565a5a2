// Package testtool finds the external programs tests check pkid against
// (openssl, the CFSSL oracle...), with one rule: under CI=true a missing
// program fails the test, elsewhere the test is skipped (or goes on
// without it), so a missing component never passes silently in CI.
package testtool

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Find returns the path of the program bin, or false when it is not
// installed; under CI=true a missing program fails the test.
func Find(t testing.TB, bin string) (string, bool) {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true: %v", bin, err)
		}
		return "", false
	}
	return p, true
}

// Require returns the path of the program bin; a missing program skips
// the test (fails it under CI=true).
func Require(t testing.TB, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		Missing(t, bin, err)
	}
	return p
}

// Missing reports an unavailable test dependency: it fails the test under
// CI=true and skips it elsewhere.
func Missing(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", what, err)
	}
	t.Skipf("%s not available: %v", what, err)
}

// Oracle returns the path of a real CFSSL tool (cfssl, cfssljson): from
// $PKID_ORACLE_DIR, else the bin/ directory of the repository holding
// the current directory (make test installs them there). Missing: see
// Missing.
func Oracle(t testing.TB, name string) string {
	t.Helper()
	dirs := []string{os.Getenv("PKID_ORACLE_DIR")}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dirs = append(dirs, filepath.Join(d, "bin"))
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p, err := filepath.Abs(filepath.Join(d, name))
		if err != nil {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	Missing(t, name+" (CFSSL oracle; make test installs it into bin/)", errors.New("not found in "+strings.Join(dirs, ", ")))
	return ""
}
