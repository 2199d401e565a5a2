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

// The dev configuration has a trust block over directories Prepare creates
// (empty until Bootstrap copies the CAs in), so it loads on first start.
func TestPrepareTrustDirectories(t *testing.T) {
	state := t.TempDir()
	cfg, err := Prepare(state, "127.0.0.1:0", &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"trust/roots", "trust/intermediates"} {
		if fi, err := os.Stat(filepath.Join(state, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
		if !strings.Contains(string(body), filepath.Join(state, d)) {
			t.Errorf("the dev configuration does not name %s", d)
		}
	}
	// publishTrust copies the CA certificates once, and leaves an edited
	// state directory without trust directories alone.
	root := filepath.Join(state, "ca", "root.pem")
	issuing := filepath.Join(state, "ca", "issuing.pem")
	os.MkdirAll(filepath.Dir(root), 0o755)
	os.WriteFile(root, []byte("root"), 0o644)
	os.WriteFile(issuing, []byte("issuing"), 0o644)
	if err := publishTrust(state, root, issuing); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(state, "trust", "roots", "dev-root.pem")); string(b) != "root" {
		t.Errorf("dev-root.pem = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(state, "trust", "intermediates", "dev-issuing.pem")); string(b) != "issuing" {
		t.Errorf("dev-issuing.pem = %q", b)
	}
	if err := publishTrust(t.TempDir(), root, issuing); err != nil {
		t.Errorf("state without trust directories: %v", err)
	}
}
