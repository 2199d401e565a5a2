package config

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/pkid/pkid/sdk"
)

// testKnown are the plugin types the tests pretend are available.
var testKnown = map[string][]string{
	KindKeyStore:  {"file", "pkcs11"},
	KindCertStore: {"sqlite", "postgres"},
}

// testSchemas are stand-ins for the builtin plugins' schemas.
var testSchemas = map[string]*sdk.Schema{
	"keystore/file": sdk.NewSchema().
		String("dir", sdk.Required, "directory holding the key files").
		String("passphrase", sdk.Optional|sdk.Sensitive, "passphrase protecting the keys").
		Number("kdf_work_factor", sdk.Optional, "scrypt work factor").Default("18"),
	"keystore/pkcs11": sdk.NewSchema().
		String("module", sdk.Required, "PKCS#11 module").
		String("token_label", sdk.Optional, "token label").
		String("pin", sdk.Optional|sdk.Sensitive, "user PIN"),
	"certstore/sqlite":   sdk.NewSchema().String("path", sdk.Required, "database file"),
	"certstore/postgres": sdk.NewSchema().String("dsn", sdk.Required|sdk.Sensitive, "connection string"),
}

// fakeValidate plays a plugin's ValidateConfig: the file keystore rejects
// the directory /nonexistent.
func fakeValidate(b *PluginBlock, cfg json.RawMessage) sdk.Diagnostics {
	if b.Kind != KindKeyStore || b.Type != "file" {
		return nil
	}
	var v struct{ Dir string }
	if err := json.Unmarshal(cfg, &v); err != nil || v.Dir != "/nonexistent" {
		return nil
	}
	return sdk.Errorf([]string{"dir"}, "Key directory does not exist", "The directory /nonexistent does not exist; create it or let pkid create it under state_dir.")
}

// loadAll runs the whole load path the daemon runs and returns every
// diagnostic plus the decoded plugin JSON by "kind/name".
func loadAll(t testing.TB, paths ...string) (*Config, hcl.Diagnostics, map[string]json.RawMessage) {
	t.Helper()
	c, diags := Load(paths...)
	diags, out := checkAll(c, diags)
	return c, diags, out
}

// checkAll runs the checks that follow Load: plugin types, then each
// plugin body against its stand-in schema and fakeValidate.
func checkAll(c *Config, diags hcl.Diagnostics) (hcl.Diagnostics, map[string]json.RawMessage) {
	diags = append(diags, c.CheckTypes(testKnown)...)
	out := map[string]json.RawMessage{}
	for _, list := range [][]*PluginBlock{c.KeyStores, c.CertStores} {
		for _, b := range list {
			s := testSchemas[b.Kind+"/"+b.Type]
			if s == nil {
				continue
			}
			js, ds := DecodePluginBody(b, s)
			diags = append(diags, ds...)
			if js != nil {
				out[b.Kind+"/"+b.Name] = js
				diags = append(diags, PluginDiagnostics(b, fakeValidate(b, js))...)
			}
		}
	}
	return diags, out
}

func render(t testing.TB, c *Config, diags hcl.Diagnostics) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.WriteDiagnostics(&buf, diags); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
