package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pkid/pkid/sdk"
)

// The core tells plugins which sensitive attributes were written as
// literals; env(), file() and templates calling them are not literals.
func TestLiteralSecretsMarked(t *testing.T) {
	t.Setenv("PKID_TEST_PIN", "1234")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pin"), []byte("1234"), 0o600)
	schema := sdk.NewSchema().String("pin", sdk.Sensitive, "").String("module", sdk.Optional, "")
	for _, tc := range []struct {
		expr    string
		literal bool
	}{
		{`"1234"`, true},
		{`"12${"34"}"`, true},
		{`env("PKID_TEST_PIN")`, false},
		{`file("pin")`, false},
		{`"${env("PKID_TEST_PIN")}"`, false},
		{`trimspace(file("pin"))`, false},
	} {
		path := filepath.Join(dir, "p.hcl")
		os.WriteFile(path, []byte("keystore \"pkcs11\" \"hsm\" {\n  module = \"/x.so\"\n  pin = "+tc.expr+"\n}\n"), 0o600)
		c, diags := Load(path)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		js, diags := DecodePluginBody(c.KeyStores[0], schema)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		lits := LiteralSecrets(c.KeyStores[0], schema)
		if got := slices.Contains(lits, "pin"); got != tc.literal {
			t.Errorf("pin = %s: marked literal %v, want %v", tc.expr, got, tc.literal)
		}
		if slices.Contains(lits, "module") {
			t.Error("a non-sensitive attribute was marked")
		}
		// The list travels as sdk.Config.LiteralSecrets, not inside the
		// plugin's JSON (where a plugin attribute could collide with it).
		if strings.Contains(string(js), "literal") {
			t.Errorf("the decoded JSON carries the literal-secret list: %s", js)
		}
	}
}
