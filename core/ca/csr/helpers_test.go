package csr

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pkid/pkid/internal/testtool"
)

// oracleCFSSL returns the path of the real CFSSL 1.6.5 binary installed
// under the repository's bin/, or skips (fails under CI=true) without it.
func oracleCFSSL(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "bin", "cfssl"))
	if err == nil {
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	need(t, "cfssl oracle (bin/cfssl)", err)
	return ""
}

// opensslPath returns the openssl binary, or skips (fails under CI=true).
func opensslPath(t *testing.T) string {
	t.Helper()
	return testtool.Require(t, "openssl")
}

func need(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s needed: %v", what, err)
	}
	t.Skipf("%s not available: %v", what, err)
}

// run runs a command with stdin and returns stdout, failing on error.
func run(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return out
}
