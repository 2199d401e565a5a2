package cli

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"fmt"
	"github.com/rogpeppe/go-internal/testscript"
	"strings"
)

// TestScripts runs the operator scenarios in testdata/script: each is a
// session of `exec pkid ...` commands with asserted output. The example
// plugin is built once for all of them ($PLUGIN_MEMORY, $PLUGIN_MEMORY_SHA256).
func TestScripts(t *testing.T) {
	plugin := buildExamplePlugin(t)
	data, err := os.ReadFile(plugin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("PLUGIN_MEMORY", plugin)
			e.Setenv("PLUGIN_MEMORY_SHA256", hex.EncodeToString(sum[:]))
			e.Setenv("PKID_CONFIG", "")
			return nil
		},
		Condition: haveCondition,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"certenv": cmdCertenv,
		},
	})
}

// buildExamplePlugin builds examples/plugins/keystore-memory against the
// sdk alone (its own replace, no go.work), as a plugin author would.
func buildExamplePlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pkid-plugin-memory")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "..", "examples", "plugins", "keystore-memory")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the example plugin: %v\n%s", err, out)
	}
	return bin
}

// haveCondition is [have:PROGRAM]: true when PROGRAM is on $PATH. A
// scenario skips itself with `[!have:openssl] skip`; under CI=true a missing
// program is an error instead, which fails the scenario (testtool's rule).
func haveCondition(cond string) (bool, error) {
	prog, ok := strings.CutPrefix(cond, "have:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, err := exec.LookPath(prog); err != nil {
		if os.Getenv("CI") == "true" {
			return false, fmt.Errorf("%s is required under CI=true: %w", prog, err)
		}
		return false, nil
	}
	return true, nil
}

// certenv NAME FILE: sets $NAME_SERIAL (decimal), $NAME_SERIAL_HEX (upper
// case, no leading zeros, as openssl prints it), $NAME_AKI (hex) and
// $NAME_AKI_COLONS (upper case, colon-separated, as CFSSL prints it) from
// the PEM certificate in FILE: pkid revoke takes them and scenarios match
// them in output.
func cmdCertenv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: certenv NAME FILE")
	}
	b, _ := pem.Decode([]byte(ts.ReadFile(args[1])))
	if b == nil {
		ts.Fatalf("%s: no PEM block", args[1])
	}
	c, err := x509.ParseCertificate(b.Bytes)
	ts.Check(err)
	ts.Setenv(args[0]+"_SERIAL", c.SerialNumber.String())
	ts.Setenv(args[0]+"_SERIAL_HEX", fmt.Sprintf("%X", c.SerialNumber))
	ts.Setenv(args[0]+"_AKI", hex.EncodeToString(c.AuthorityKeyId))
	// CFSSL's form of the AKI: upper case with colons.
	var parts []string
	for _, b := range c.AuthorityKeyId {
		parts = append(parts, fmt.Sprintf("%02X", b))
	}
	ts.Setenv(args[0]+"_AKI_COLONS", strings.Join(parts, ":"))
}

// A scenario's [have:PROGRAM] never passes silently in CI: a missing
// program is an error (the scenario fails) under CI=true, a skip elsewhere.
func TestHaveCondition(t *testing.T) {
	tests := []struct {
		cond, ci string
		want     bool
		err      string
	}{
		{"have:sh", "true", true, ""},
		{"have:pkid-no-such-program", "", false, ""},
		{"have:pkid-no-such-program", "true", false, "required under CI=true"},
		{"nope:sh", "", false, "unknown condition"},
	}
	for _, tc := range tests {
		t.Run(tc.cond+"/CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			got, err := haveCondition(tc.cond)
			if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("haveCondition(%q) = %v, %v; want %v, error containing %q", tc.cond, got, err, tc.want, tc.err)
			}
		})
	}
}
