package csr

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/pkid/pkid/internal/testtool"
)

// oracleCFSSL returns the path of the real CFSSL 1.6.5 binary installed
// under the repository's bin/, or skips (fails under CI=true) without it.
func oracleCFSSL(t *testing.T) string {
	t.Helper()
	return testtool.Oracle(t, "cfssl")
}

// opensslPath returns the openssl binary, or skips (fails under CI=true).
func opensslPath(t *testing.T) string {
	t.Helper()
	return testtool.Require(t, "openssl")
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
