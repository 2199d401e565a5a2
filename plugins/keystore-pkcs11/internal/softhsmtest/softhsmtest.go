// Package softhsmtest creates throw-away SoftHSM2 tokens for tests: a
// temporary token directory, a SOFTHSM2_CONF file pointing at it (set in the
// test's environment), and one token initialised with softhsm2-util.
//
// SoftHSM reads SOFTHSM2_CONF when the module is initialised, so a test must
// create its token before the first instance using it loads the module, and
// must not run in parallel with tests using another token.
package softhsmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Default credentials of tokens created by New.
const (
	PIN   = "s3cr3t-pin"
	SOPIN = "123456"
)

// modulePaths are where distributions install the SoftHSM2 module.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/lib/pkcs11/libsofthsm2.so",
}

// Token is an initialised SoftHSM2 token.
type Token struct {
	Module string // path of libsofthsm2.so
	Label  string
	PIN    string
	SOPIN  string
	Dir    string // token directory
	Conf   string // SOFTHSM2_CONF file
}

// unavailable skips the test, or fails it when CI=true so that CI never
// silently loses the PKCS#11 tests.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("SoftHSM2 is required under CI=true: %s (apt-get install -y softhsm2)", why)
	}
	t.Skipf("SoftHSM2 not available: %s (apt-get install -y softhsm2)", why)
}

// Module returns the path of the SoftHSM2 PKCS#11 module, skipping (or,
// under CI=true, failing) the test when it is not installed.
func Module(t testing.TB) string {
	t.Helper()
	for _, p := range modulePaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	unavailable(t, "libsofthsm2.so not found")
	return ""
}

// New creates a token directory and configuration under t.TempDir, points
// SOFTHSM2_CONF at it for the duration of the test (t.Setenv, so the test
// must not be parallel) and initialises a token labelled label with PIN and
// SOPIN. Without softhsm2-util it skips the test, or fails it under CI=true.
func New(t testing.TB, label string) *Token {
	t.Helper()
	_, err := exec.LookPath("softhsm2-util")
	if err != nil {
		unavailable(t, "softhsm2-util not in PATH")
	}
	mod := Module(t)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	tok := &Token{Module: mod, Label: label, PIN: PIN, SOPIN: SOPIN, Dir: tokens, Conf: conf}
	tok.Init(t, label)
	return tok
}

// Init initialises one more token labelled label (same PINs) in the
// token directory. An instance that has the module loaded already sees the
// new token only after the module is initialised again.
func (tok *Token) Init(t testing.TB, label string) {
	t.Helper()
	cmd := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", tok.PIN, "--so-pin", tok.SOPIN)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+tok.Conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
}
