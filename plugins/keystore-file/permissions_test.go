package keystorefile_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	keystorefile "github.com/pkid/pkid/plugins/keystore-file"
	"github.com/pkid/pkid/sdk"
)

// Issue 11 item 8: a passphrase file or key directory that group or others
// can reach is refused with one line naming it, its mode and the chmod
// that fixes it; insecure_permissions (pkid serve -dev) lets it through.
// The check reads modes, so it holds when the tests run as root.
func TestConfigureRefusesLoosePermissions(t *testing.T) {
	tests := []struct {
		name      string
		passMode  os.FileMode
		dirMode   os.FileMode
		insecure  bool
		wantError []string // substrings; nil: Configure succeeds
	}{
		{"private", 0o600, 0o700, false, nil},
		{"owner read only", 0o400, 0o700, false, nil},
		{"world-readable passphrase", 0o644, 0o700, false, []string{"passphrase_file", "PASS", "0644", "chmod 600 PASS"}},
		{"group-readable passphrase", 0o640, 0o700, false, []string{"PASS", "0640", "chmod 600 PASS"}},
		{"group-writable passphrase", 0o620, 0o700, false, []string{"PASS", "0620"}},
		{"world-readable key directory", 0o600, 0o755, false, []string{"key directory", "DIR", "0755", "chmod 700 DIR"}},
		{"group-accessible key directory", 0o600, 0o750, false, []string{"DIR", "0750", "chmod 700 DIR"}},
		{"world-writable key directory", 0o600, 0o703, false, []string{"DIR", "0703"}},
		{"insecure_permissions", 0o644, 0o755, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "keys")
			pass := filepath.Join(parent, "passphrase")
			if err := os.WriteFile(pass, []byte(testPassphrase+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			// An initialised key directory (a new one is created 0700).
			mustConfigure(t, dir, testPassphrase)
			if err := os.Chmod(pass, tc.passMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.dirMode); err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(map[string]any{"dir": dir, "passphrase": nil, "passphrase_file": pass,
				"kdf_work_factor": 10, "insecure_permissions": tc.insecure})
			inst, err := keystorefile.New().Configure(context.Background(), sdk.Config{Kind: sdk.KindKeyStore, Instance: "t", JSON: js})
			if tc.wantError == nil {
				if err != nil {
					t.Fatalf("Configure: %v", err)
				}
				inst.(sdk.KeyStore).Close()
				return
			}
			if err == nil {
				inst.(sdk.KeyStore).Close()
				t.Fatal("Configure succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tc.wantError {
				w = strings.NewReplacer("PASS", pass, "DIR", dir).Replace(w)
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}
