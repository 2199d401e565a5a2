package devmode

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// -dev starts with loose permissions on its secrets but says so, naming
// the file, its mode and the fix (outside -dev the keystore refuses).
func TestPreparePermissionWarnings(t *testing.T) {
	tests := []struct {
		name     string
		passMode os.FileMode
		keysMode os.FileMode
		want     []string // substrings of the output; PASS and KEYS are the paths
		not      []string
	}{
		{"private", 0o600, 0o700, nil, []string{"Warning"}},
		{"world-readable passphrase", 0o644, 0o700, []string{"Warning: the keystore passphrase PASS is mode 0644", "chmod 600 PASS"}, []string{"KEYS is mode"}},
		{"group-readable key directory", 0o600, 0o750, []string{"Warning: the key directory KEYS is mode 0750", "chmod 700 KEYS"}, []string{"PASS is mode"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			if _, err := Prepare(state, "127.0.0.1:0", &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			pass, keys := filepath.Join(state, "passphrase"), filepath.Join(state, "keys")
			if err := os.Mkdir(keys, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(pass, tc.passMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(keys, tc.keysMode); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if _, err := Prepare(state, "127.0.0.1:0", &out); err != nil {
				t.Fatal(err)
			}
			r := strings.NewReplacer("PASS", pass, "KEYS", keys)
			for _, w := range tc.want {
				if w = r.Replace(w); !strings.Contains(out.String(), w) {
					t.Errorf("output %q lacks %q", out.String(), w)
				}
			}
			for _, w := range tc.not {
				if w = r.Replace(w); strings.Contains(out.String(), w) {
					t.Errorf("output %q has %q", out.String(), w)
				}
			}
		})
	}
	// The dev configuration lets the keystore start (-dev warns instead).
	state := t.TempDir()
	cfg, err := Prepare(state, "127.0.0.1:0", &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(cfg); !strings.Contains(string(b), "insecure_permissions = true") {
		t.Errorf("dev configuration without insecure_permissions:\n%s", b)
	}
}
