// Package testtool finds the external programs tests check pkid against
// (openssl, the CFSSL oracle...), with one rule: under CI=true a missing
// program fails the test, elsewhere the test is skipped (or goes on
// without it), so a missing component never passes silently in CI.
package testtool

import (
	"os"
	"os/exec"
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
	p, ok := Find(t, bin)
	if !ok {
		t.Skipf("%s not installed", bin)
	}
	return p
}
