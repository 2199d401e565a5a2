package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Without a configuration, `pkid keystore pkcs11 -help` starts the builtin
// plugin (out of process) and lists the commands it declares.
func TestKeystorePluginHelp(t *testing.T) {
	t.Setenv("PKID_CONFIG", "")
	for _, args := range [][]string{{"keystore", "pkcs11", "-help"}, {"keystore", "pkcs11"}} {
		r := pkid(t, args...)
		if r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
		for _, cmd := range []string{"slots", "list", "generate", "public", "test-sign"} {
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(cmd) + `\s+\S`).MatchString(r.stdout) {
				t.Errorf("%v: command %q with its synopsis missing from:\n%s", args, cmd, r.stdout)
			}
		}
	}
	r := pkid(t, "keystore", "pkcs11", "generate", "-help")
	if r.code != 0 || !strings.Contains(r.stdout, "Usage: pkid keystore pkcs11 generate") || !strings.Contains(r.stdout, "ALGORITHM") {
		t.Errorf("command help: %+v", r)
	}
	r = pkid(t, "keystore", "pkcs11", "frobnicate")
	if r.code != 1 || !strings.Contains(r.stderr, `no command "frobnicate"`) || !strings.Contains(r.stderr, "test-sign") {
		t.Errorf("unknown plugin command: %+v", r)
	}
}

// The plugin's exit code and error come back through the protocol.
func TestKeystorePluginExitCode(t *testing.T) {
	t.Setenv("PKID_CONFIG", "")
	r := pkid(t, "keystore", "pkcs11", "public")
	if r.code != 2 || !strings.Contains(r.stderr, "want 1 arguments") {
		t.Errorf("usage error in the plugin: want exit 2 and its message, got %+v", r)
	}
	r = pkid(t, "keystore", "pkcs11", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "no pkcs11 keystore is configured") {
		t.Errorf("failing plugin command: want exit 1 and its message, got %+v", r)
	}
}

// A word that is neither an instance nor a plugin type: one error naming
// both lists.
func TestKeystoreUnknownWord(t *testing.T) {
	cfg := devConfig(t, "")
	r := pkid(t, "keystore", "nope", "list", "-config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, `no keystore named "nope"`) ||
		!strings.Contains(r.stderr, "instances: dev;") || !strings.Contains(r.stderr, "types: file, pkcs11") {
		t.Errorf("unknown word with a configuration: %+v", r)
	}
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("want one line, got %q", r.stderr)
	}
	t.Setenv("PKID_CONFIG", "")
	r = pkid(t, "keystore", "nope", "list")
	if r.code != 1 || !strings.Contains(r.stderr, `no keystore plugin type named "nope"`) ||
		!strings.Contains(r.stderr, "file, pkcs11") || !strings.Contains(r.stderr, "-config") {
		t.Errorf("unknown word without a configuration: %+v", r)
	}
}

// An instance named like a plugin type is a configuration error, so the
// word after `keystore` is never ambiguous.
func TestKeystoreInstanceNamedLikeType(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pkid.hcl")
	body := `keystore "file" "pkcs11" {
  dir        = "` + dir + `/keys"
  passphrase = "p"
}
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"validate", "-config", cfg},
		{"keystore", "pkcs11", "list", "-config", cfg},
	} {
		r := pkid(t, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "Instance name collides with plugin type") || !strings.Contains(r.stderr, "pkid.hcl:1:") {
			t.Errorf("%v: want the collision diagnostic, got %+v", args, r)
		}
	}
}

func TestSplitConfigArgs(t *testing.T) {
	paths, rest := splitConfigArgs([]string{"list", "-config", "a.hcl", "-keystore", "ca", "--config=b.hcl", "--", "-config", "c"})
	if !slices.Equal(paths, []string{"a.hcl", "b.hcl"}) || !slices.Equal(rest, []string{"list", "-keystore", "ca", "--", "-config", "c"}) {
		t.Errorf("paths %q rest %q", paths, rest)
	}
}
