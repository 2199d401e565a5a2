package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/pkid/pkid/sdk"
)

func mustLoad(t *testing.T, paths ...string) (*Config, map[string]json.RawMessage) {
	t.Helper()
	c, diags, out := loadAll(t, paths...)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", render(t, c, diags))
	}
	return c, out
}

func TestLoadDirectoryMerges(t *testing.T) {
	t.Setenv("PKID_TEST_PASSPHRASE", "hunter2")
	c, out := mustLoad(t, "testdata/multi")

	var names []string
	for n := range c.Files {
		names = append(names, n)
	}
	if len(names) != 3 {
		t.Errorf("Files = %v, want the three configuration files (README.md ignored)", names)
	}
	if got := (PkidBlock{StateDir: "/var/lib/pkid", Listen: "127.0.0.1:8888", LogLevel: "debug", DefRange: c.Pkid.DefRange}); !reflect.DeepEqual(c.Pkid, got) {
		t.Errorf("Pkid = %+v", c.Pkid)
	}
	if len(c.KeyStores) != 1 || len(c.CertStores) != 1 || len(c.CAs) != 1 || len(c.Plugins) != 1 {
		t.Fatalf("got %d keystores, %d certstores, %d cas, %d plugins; want 1 each",
			len(c.KeyStores), len(c.CertStores), len(c.CAs), len(c.Plugins))
	}
	ks := c.KeyStores[0]
	if ks.Kind != KindKeyStore || ks.Type != "file" || ks.Name != "dev" || ks.Isolation != IsolationInProcess {
		t.Errorf("keystore = %+v", ks)
	}
	if ks.DefRange.Filename != filepath.Join("testdata", "multi", "dev.hcl") || ks.NameRange.Start.Line != 7 {
		t.Errorf("keystore ranges: def %v name %v", ks.DefRange, ks.NameRange)
	}
	// isolation is the core's: the plugin's JSON must not carry it.
	if got, want := string(out["keystore/dev"]), `{"dir":"/var/lib/pkid/keys","kdf_work_factor":null,"passphrase":"hunter2"}`; got != want {
		t.Errorf("keystore JSON = %s, want %s", got, want)
	}
	cs := c.CertStores[0]
	if cs.Type != "sqlite" || cs.Name != "main" || !strings.HasSuffix(cs.DefRange.Filename, "store.hcl.json") {
		t.Errorf("certstore = %+v", cs)
	}
	if got, want := string(out["certstore/main"]), `{"path":"/var/lib/pkid/pkid.db"}`; got != want {
		t.Errorf("certstore JSON = %s, want %s", got, want)
	}

	ca := c.CAs[0]
	if ca.Name != "issuing" || ca.KeyStore != "dev" || ca.CertStore != "main" || ca.Key != "issuing-2026" ||
		ca.Certificate != "/var/lib/pkid/ca/issuing.pem" || ca.Chain != "/var/lib/pkid/ca/chain.pem" {
		t.Errorf("ca = %+v", ca)
	}
	if ca.KeyStoreRange.Start.Line != 2 || ca.KeyStoreRange.Start.Column != 17 {
		t.Errorf("KeyStoreRange = %v", ca.KeyStoreRange)
	}
	if len(ca.Profiles) != 2 || ca.Profiles[0].Name != "server" || ca.Profiles[1].Name != "client" {
		t.Fatalf("profiles = %+v", ca.Profiles)
	}
	attrs, diags := ca.Profiles[0].Body.JustAttributes()
	if diags.HasErrors() || attrs["expiry"] == nil || attrs["usages"] == nil {
		t.Errorf("profile body not kept raw: %v %v", attrs, diags)
	}

	p := c.Plugins[0]
	want := ExternalPlugin{
		Type:     "example",
		Path:     filepath.Join("testdata", "multi", "plugins", "pkid-plugin-example"),
		SHA256:   strings.Repeat("0123456789abcdef", 4),
		Env:      []string{"HTTPS_PROXY"},
		Args:     []string{"-v"},
		DefRange: p.DefRange,
	}
	if p.Type != want.Type || p.Path != want.Path || p.SHA256 != want.SHA256 ||
		strings.Join(p.Env, ",") != "HTTPS_PROXY" || strings.Join(p.Args, ",") != "-v" {
		t.Errorf("plugin = %+v, want %+v", *p, want)
	}
}

func TestLoadFilesSameAsDirectory(t *testing.T) {
	t.Setenv("PKID_TEST_PASSPHRASE", "x")
	// Repeating a file (directly and via its directory) must not duplicate it.
	c, _ := mustLoad(t, "testdata/multi/dev.hcl", "testdata/multi", "testdata/multi/ca.hcl")
	if len(c.Files) != 3 || len(c.KeyStores) != 1 || len(c.CAs) != 1 {
		t.Errorf("files %d keystores %d cas %d", len(c.Files), len(c.KeyStores), len(c.CAs))
	}
}

func TestFunctions(t *testing.T) {
	t.Setenv("PKID_TEST_KEY_NAME", "root-2026")
	os.Unsetenv("PKID_TEST_UNSET_WITH_DEFAULT")
	// git checks the file out 0644; a secret read with file() must be private.
	if err := os.Chmod("testdata/funcs/secret.txt", 0o600); err != nil {
		t.Fatal(err)
	}
	c, out := mustLoad(t, "testdata/funcs/funcs.hcl")
	if got, want := string(out["keystore/dev"]), `{"dir":"/var/lib/pkid/keys","kdf_work_factor":18,"passphrase":"s3cret passphrase"}`; got != want {
		t.Errorf("keystore JSON = %s, want %s", got, want)
	}
	if got, want := string(out["certstore/main"]), `{"path":"DEFAULT.DB"}`; got != want {
		t.Errorf("certstore JSON = %s, want %s", got, want)
	}
	if c.CAs[0].Key != "root-2026" || c.CAs[0].KeyStore != "dev" {
		t.Errorf("ca = %+v", c.CAs[0])
	}
}

func TestJSONSyntax(t *testing.T) {
	t.Setenv("PKID_TEST_KEY_DIR", "/srv/keys")
	c, out := mustLoad(t, "testdata/json/pkid.hcl.json")
	if c.Pkid.StateDir != "/var/lib/pkid" {
		t.Errorf("state_dir = %q", c.Pkid.StateDir)
	}
	if ks := c.KeyStores[0]; ks.Isolation != IsolationProcess {
		t.Errorf("isolation = %q", ks.Isolation)
	}
	if got, want := string(out["keystore/dev"]), `{"dir":"/srv/keys","kdf_work_factor":15,"passphrase":null}`; got != want {
		t.Errorf("keystore JSON = %s, want %s", got, want)
	}
	ca := c.CAs[0]
	if ca.KeyStore != "dev" || len(ca.Profiles) != 1 || ca.Profiles[0].Name != "server" {
		t.Errorf("ca = %+v", ca)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, summary string
	}{
		{"missing file", filepath.Join(dir, "nope.hcl"), "Failed to read configuration"},
		{"empty directory", empty, "No configuration files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, diags := Load(tc.path)
			if c == nil || len(diags) != 1 || diags[0].Summary != tc.summary || !strings.Contains(diags[0].Detail, tc.path) {
				t.Errorf("diags = %v", diags)
			}
		})
	}
	if c, diags := Load(); len(diags) != 0 || c == nil {
		t.Errorf("Load() = %v, %v", c, diags)
	}
}

func TestDecodePluginBodyBlocks(t *testing.T) {
	src := `
keystore "pkcs11" "hsm" {
  module = "/usr/lib/softhsm/libsofthsm2.so"
  slots  = ["a", "b"]
  tuning { retries = 3 }
  token "primary" { label = "pkid" }
  token "backup"  { label = "pkid2" }
  mirror { url = "x" }
  mirror { url = "y" }
}`
	c := loadString(t, src)
	s := sdk.NewSchema().
		String("module", sdk.Required, "").
		StringList("slots", sdk.Optional, "").
		StringMap("labels", sdk.Optional, "").
		Block("tuning", sdk.NestingSingle, sdk.NewSchema().Number("retries", sdk.Optional, ""), false, "").
		Block("token", sdk.NestingMap, sdk.NewSchema().String("label", sdk.Required, ""), false, "").
		Block("mirror", sdk.NestingList, sdk.NewSchema().String("url", sdk.Required, ""), true, "").
		Block("absent", sdk.NestingList, sdk.NewSchema().Bool("on", sdk.Optional, ""), false, "")
	js, diags := DecodePluginBody(c.KeyStores[0], s)
	if diags.HasErrors() {
		t.Fatalf("diags:\n%s", render(t, c, diags))
	}
	want := `{"absent":[],"labels":null,"mirror":[{"url":"x"},{"url":"y"}],"module":"/usr/lib/softhsm/libsofthsm2.so","slots":["a","b"],"token":{"backup":{"label":"pkid2"},"primary":{"label":"pkid"}},"tuning":{"retries":3}}`
	if string(js) != want {
		t.Errorf("JSON = %s\nwant   %s", js, want)
	}

	// A plugin finding about a nested attribute points into the block.
	ds := PluginDiagnostics(c.KeyStores[0], sdk.Diagnostics{
		{Severity: sdk.SeverityWarning, Summary: "w", Path: []string{"token", "backup", "label"}},
		{Severity: sdk.SeverityError, Summary: "e", Path: []string{"mirror", "1", "url"}},
		{Severity: sdk.SeverityError, Summary: "x", Path: []string{"nosuch"}},
	})
	if len(ds) != 3 || ds[0].Severity != hcl.DiagWarning || ds[0].Subject.Start.Line != 7 ||
		ds[1].Subject.Start.Line != 9 || ds[2].Subject.Start.Line != 2 {
		for _, d := range ds {
			t.Logf("%v %s %v", d.Severity, d.Summary, d.Subject)
		}
		t.Errorf("plugin diagnostics have wrong ranges")
	}
	if ds[0].Detail != `In keystore "pkcs11" "hsm".` {
		t.Errorf("detail = %q", ds[0].Detail)
	}

	// A broken schema is the plugin's fault, reported at the block.
	_, diags = DecodePluginBody(c.KeyStores[0], &sdk.Schema{Attributes: []sdk.Attribute{{Name: "module", Type: "strin"}}})
	if len(diags) != 1 || diags[0].Summary != "Invalid plugin schema" {
		t.Errorf("diags = %v", diags)
	}
}

func TestPluginDiagnosticsJSON(t *testing.T) {
	c, diags := Load("testdata/json/pkid.hcl.json")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ds := PluginDiagnostics(c.KeyStores[0], sdk.Errorf([]string{"kdf_work_factor"}, "too weak", ""))
	if r := ds[0].Subject; r.Start.Line != 10 {
		t.Errorf("range = %v, want the kdf_work_factor value on line 10", r)
	}
	// The core's isolation attribute is hidden from the plugin's view.
	ds = PluginDiagnostics(c.KeyStores[0], sdk.Errorf([]string{"isolation"}, "x", ""))
	if *ds[0].Subject != c.KeyStores[0].DefRange {
		t.Errorf("isolation resolved to %v, want the block header", ds[0].Subject)
	}
}

func TestCheckTypesNoTypes(t *testing.T) {
	c := loadString(t, `certstore "sqlite" "main" { path = "x" }`)
	diags := c.CheckTypes(nil)
	if len(diags) != 1 || !strings.Contains(diags[0].Detail, "no certstore plugin types are available") {
		t.Errorf("diags = %v", diags)
	}
	// A hand-built block without an isolation range still gets a subject.
	diags = (&Config{KeyStores: []*PluginBlock{{Kind: KindKeyStore, Type: "file", Name: "x", Isolation: "thread"}}}).CheckTypes(testKnown)
	if len(diags) != 1 || diags[0].Subject == nil {
		t.Errorf("diags = %v", diags)
	}
}

func TestRemainBodyIsSyntax(t *testing.T) {
	// PluginDiagnostics relies on the remain body of native syntax staying
	// an *hclsyntax.Body.
	c := loadString(t, `keystore "file" "dev" { dir = "x" }`)
	if _, ok := c.KeyStores[0].Body.(*hclsyntax.Body); !ok {
		t.Errorf("Body is %T", c.KeyStores[0].Body)
	}
}

// loadString loads src as a temporary main.hcl and fails on errors.
func loadString(t *testing.T, src string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "main.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, diags := Load(path)
	if diags.HasErrors() {
		t.Fatalf("Load:\n%s", render(t, c, diags))
	}
	return c
}

func TestPkidServerSettings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pkid.hcl")
	os.WriteFile(path, []byte(`
pkid {
  listen = "127.0.0.1:9443"
  max_body_bytes = 65536
  client_cert_policy = { sign = ["^svc-[a-z]+$"], "*" = ["^admin$"] }
  tls {
    cert        = "/etc/pkid/tls.pem"
    key         = "/etc/pkid/tls-key.pem"
    client_ca   = "/etc/pkid/clients.pem"
    min_version = "1.3"
  }
  auth_key "issuer" {
    key = "0123456789abcdef0123456789abcdef"
  }
}
`), 0o600)
	c, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := c.Pkid
	if p.TLS.Cert != "/etc/pkid/tls.pem" || p.TLS.MinVersion != "1.3" || p.MaxBodyBytes != 65536 ||
		len(p.ClientCertPolicy["sign"]) != 1 || len(p.AuthKeys["issuer"].Key) != 16 {
		t.Errorf("pkid block = %+v", p)
	}
	for _, tc := range []struct{ body, want string }{
		{"pkid {\n  auth_key \"k\" {\n    key = \"zz\"\n  }\n}\n", "Invalid auth key"},
		{"pkid {\n  auth_key \"k\" {\n    key = \"0123\"\n  }\n}\n", "at least 16 bytes"},
		{"pkid {\n  tls {\n    cert = \"a\"\n    key = \"b\"\n    min_version = \"1.4\"\n  }\n}\n", "Invalid TLS version"},
		{"pkid {\n  tls {\n    cert = \"a\"\n  }\n}\n", "Missing required argument"},
	} {
		os.WriteFile(path, []byte(tc.body), 0o600)
		c, diags := Load(path)
		var b strings.Builder
		c.WriteDiagnostics(&b, diags)
		if !diags.HasErrors() || !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s: want %q, got %s", tc.body, tc.want, b.String())
		}
	}
}

func TestPkidLimits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pkid.hcl")
	os.WriteFile(path, []byte("pkid {\n  limits {\n    max_sans = 10\n    max_rsa_bits = 3072\n  }\n}\n"), 0o600)
	c, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l := c.Pkid.Limits.WithDefaults()
	if l.MaxSANs != 10 || l.MaxRSABits != 3072 || l.MaxCertificateBytes != DefaultMaxCertificateBytes ||
		l.MaxPathLen != DefaultMaxPathLen || l.MaxKeyGenerations != DefaultMaxKeyGenerations {
		t.Errorf("limits = %+v", l)
	}
	for _, tc := range []struct{ body, want string }{
		{"pkid {\n  limits {\n    max_sans = 0\n  }\n}\n", "max_sans must be between 1 and 100000, not 0."},
		{"pkid {\n  limits {\n    max_rsa_bits = 1024\n  }\n}\n", "pkid.hcl:3:20 (in pkid)"},
		{"pkid {\n  limits {\n    max_key_generations = \"many\"\n  }\n}\n", "pkid.hcl:3:27 (in pkid)"},
		{"pkid {\n  limits {\n    max_sanz = 1\n  }\n}\n", "pkid.hcl:3:5 (in pkid)"},
		{"pkid {\n  limits {\n  }\n  limits {\n  }\n}\n", "pkid.hcl:4:3 (in pkid)"},
	} {
		os.WriteFile(path, []byte(tc.body), 0o600)
		c, diags := Load(path)
		if !diags.HasErrors() {
			t.Errorf("%q: no error", tc.body)
			continue
		}
		if got := render(t, c, diags); !strings.Contains(got, tc.want) {
			t.Errorf("%q:\n%s\nwant %q", tc.body, got, tc.want)
		}
	}
}

func TestPkidUI(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pkid.hcl")
	os.WriteFile(path, []byte("pkid {\n  client_cert_policy = { ui = [\"^ops-.*$\"] }\n  ui {\n    enabled = true\n    expiring_within = \"14d\"\n  }\n}\n"), 0o600)
	c, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if u := c.Pkid.UI; !u.Enabled || u.ExpiringWithin != 14*24*time.Hour || u.DefRange.Start.Line != 3 || len(c.Pkid.ClientCertPolicy[UIPolicy]) != 1 {
		t.Errorf("ui = %+v", u)
	}
	for _, tc := range []struct{ body, want string }{
		{"pkid {\n  ui {\n    enabled = \"yes please\"\n  }\n}\n", "pkid.hcl:3:15 (in pkid)"},
		{"pkid {\n  ui {\n    expiring_within = \"soon\"\n  }\n}\n", "pkid.hcl:3:23 (in pkid)"},
		{"pkid {\n  ui {\n    expiring_within = \"4000d\"\n  }\n}\n", "at most 3 years"},
		{"pkid {\n  ui {\n    listen = \"0.0.0.0:80\"\n  }\n}\n", "pkid.hcl:3:5 (in pkid)"},
		{"pkid {\n  ui {\n  }\n  ui {\n  }\n}\n", "Duplicate ui block"},
	} {
		os.WriteFile(path, []byte(tc.body), 0o600)
		c, diags := Load(path)
		if !diags.HasErrors() {
			t.Errorf("%q: no error", tc.body)
			continue
		}
		if got := render(t, c, diags); !strings.Contains(got, tc.want) {
			t.Errorf("%q:\n%s\nwant %q", tc.body, got, tc.want)
		}
	}
}

func TestAuditCertStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pkid.hcl")
	os.WriteFile(path, []byte("pkid {\n  audit_certstore = \"main\"\n  audit_checkpoint_key = \"/etc/pkid/audit.key\"\n}\n"), 0o600)
	c, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if o := c.Pkid.Ops; o.AuditCertStore != "main" || o.AuditCertStoreRange.Start.Line != 2 {
		t.Errorf("ops = %+v", o)
	}
	for _, tc := range []struct{ body, want string }{
		{"pkid {\n  audit_certstore = \"main\"\n}\n", "pkid.hcl:2:21 (in pkid)"},
		{"pkid {\n  audit_log = \"/x\"\n  audit_certstore = \"main\"\n}\n", "audit_log and audit_certstore are exclusive"},
	} {
		os.WriteFile(path, []byte(tc.body), 0o600)
		c, diags := Load(path)
		if got := render(t, c, diags); !diags.HasErrors() || !strings.Contains(got, tc.want) {
			t.Errorf("%q:\n%s\nwant %q", tc.body, got, tc.want)
		}
	}
}
