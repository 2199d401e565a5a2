package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/sdk"
)

// Issue 11 item 8: a sensitive attribute read with file() from a file that
// group or others can access is an error at the call (file:line:col, the
// mode and the chmod that fixes it); a warning when the block sets
// insecure_permissions = true (pkid serve -dev).
func TestSecretFilePermissions(t *testing.T) {
	schema := sdk.NewSchema().String("pin", sdk.Sensitive, "").String("label", sdk.Optional, "").
		Bool("insecure_permissions", sdk.Optional, "")
	tests := []struct {
		name     string
		mode     os.FileMode
		body     string
		severity hcl.DiagnosticSeverity // 0: no diagnostic
	}{
		{"private", 0o600, `pin = file("secret")`, 0},
		{"world-readable", 0o644, `pin = file("secret")`, hcl.DiagError},
		{"group-readable, nested call", 0o640, `pin = trimspace(file("secret"))`, hcl.DiagError},
		{"not sensitive", 0o644, "pin = \"x\"\nlabel = file(\"secret\")", 0},
		{"insecure_permissions", 0o644, "pin = file(\"secret\")\ninsecure_permissions = true", hcl.DiagWarning},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			secret := filepath.Join(dir, "secret")
			os.WriteFile(secret, []byte("1234"), 0o600)
			if err := os.Chmod(secret, tc.mode); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "p.hcl")
			os.WriteFile(path, []byte("keystore \"pkcs11\" \"hsm\" {\n  "+tc.body+"\n}\n"), 0o600)
			c, diags := Load(path)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			js, diags := DecodePluginBody(c.KeyStores[0], schema)
			if tc.severity == 0 {
				if len(diags) != 0 || js == nil {
					t.Fatalf("want no diagnostic: %v", diags)
				}
				return
			}
			if len(diags) != 1 || diags[0].Severity != tc.severity {
				t.Fatalf("want one diagnostic of severity %v, got %v", tc.severity, diags)
			}
			d := diags[0]
			if d.Subject == nil || d.Subject.Filename != path || d.Subject.Start.Line != 2 {
				t.Errorf("diagnostic not at %s:2: %v", path, d.Subject)
			}
			for _, w := range []string{secret + ", which is mode " + fmt.Sprintf("%04o", tc.mode), "chmod 600 " + secret} {
				if !strings.Contains(d.Detail, w) {
					t.Errorf("detail %q lacks %q", d.Detail, w)
				}
			}
			if tc.severity == hcl.DiagError && js != nil {
				t.Error("JSON returned with an error")
			}
		})
	}
}
