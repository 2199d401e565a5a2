package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 11 item 8: outside -dev, a world-readable passphrase file or key
// directory stops the file keystore (run out of process here) with one
// line naming it, its mode and the fix; -dev starts and warns.
func TestLoosePermissionsRefused(t *testing.T) {
	cfg, dir := configuredCA(t)
	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "issuing", "-cn", "perm test"); r.code != 0 {
		t.Fatalf("ca init: %+v", r)
	}
	pass, keys := filepath.Join(dir, "passphrase"), filepath.Join(dir, "keys")
	tests := []struct {
		name       string
		file       string
		mode, good os.FileMode
		want       string
	}{
		{"passphrase file", pass, 0o644, 0o600, "passphrase_file " + pass + " is mode 0644, accessible to group or others: chmod 600 " + pass},
		{"key directory", keys, 0o755, 0o700, "key directory " + keys + " is mode 0755, accessible to group or others: chmod 700 " + keys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Chmod(tc.file, tc.mode); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(tc.file, tc.good)
			r := pkid(t, "keystore", "dev", "list", "-config", cfg)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want a failure saying %q; got %+v", tc.want, r)
			}
		})
	}
	if r := pkid(t, "keystore", "dev", "list", "-config", cfg); r.code != 0 {
		t.Fatalf("with private modes: %+v", r)
	}
}

func TestDevLoosePermissionsWarn(t *testing.T) {
	state := t.TempDir()
	pass := filepath.Join(state, "passphrase")
	if err := os.WriteFile(pass, []byte("dev passphrase\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(pass, 0o644)
	d := startDev(t, state)
	if want := "Warning: the keystore passphrase " + pass + " is mode 0644"; !strings.Contains(d.output(), want) {
		t.Fatalf("dev start output lacks %q:\n%s", want, d.output())
	}
}
