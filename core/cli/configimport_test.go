package cli

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
)

func TestParseRoots(t *testing.T) {
	rf, err := parseRoots([]byte(`# comment
private = file://d.pem
[primary]
  private = "file:///etc/ca/p.pem"
certificate = 'p.pem'
; also a comment
nets = 10.0.0.0/8,192.168.1.0/24
[backup]
certificate=b.pem
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rf.Labels, ","); got != "default,primary,backup" {
		t.Errorf("labels %s", got)
	}
	if rf.Roots["primary"]["private"] != "file:///etc/ca/p.pem" || rf.Roots["primary"]["certificate"] != "p.pem" ||
		rf.Roots["default"]["private"] != "file://d.pem" || rf.Roots["backup"]["certificate"] != "b.pem" {
		t.Errorf("roots %v", rf.Roots)
	}
	for _, bad := range []struct{ in, want string }{
		{"", "no roots"},
		{"[a\nx=y", "bad section header"},
		{"[]", "bad section header"},
		{"[a]\nnovalue", "want key = value"},
		{"[a]\nx=1\n[a]\ny=2", "repeated"},
		{strings.Repeat("#", maxRootsFile+1), "larger than"},
		{"[a]\nx=" + strings.Repeat("y", 70000), ""}, // long lines are fine within the bound
	} {
		_, err := parseRoots([]byte(bad.in))
		if bad.want == "" {
			if err != nil {
				t.Errorf("%.20q: %v", bad.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%.20q: err %v, want %q", bad.in, err, bad.want)
		}
	}
}

func TestRootsPlan(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.json"), []byte(`{"signing":{"default":{"expiry":"1h","usages":["signing"]}}}`), 0o644)
	rf, err := parseRoots([]byte("[a]\nprivate = file://k.pem\ncertificate = c.pem\nconfig = c.json\nnets = 10.1.2.3/8\ndbconfig = db.json\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := rootsPlan(rf, dir)
	if err != nil {
		t.Fatal(err)
	}
	c := p.CAs[0]
	if c.Key != filepath.Join(dir, "k.pem") || c.Certificate != filepath.Join(dir, "c.pem") || c.DBConfig != filepath.Join(dir, "db.json") ||
		len(c.Nets) != 1 || c.Nets[0] != netip.MustParsePrefix("10.0.0.0/8") || c.SigningConfig == nil {
		t.Errorf("plan %+v", c)
	}
	for _, bad := range []struct{ roots, want string }{
		{"[a]\nprivate = rofile://k\ncertificate = c", "Red October"},
		{"[a]\nprivate = file://k\ncertificate = c\nro_server = x", "Red October"},
		{"[a]\nprivate = /k.pem\ncertificate = c", "want a file:// URI"},
		{"[a]\ncertificate = c", "no private key"},
		{"[a]\nprivate = file://k", "no certificate"},
		{"[a]\nprivate = file://k\ncertificate = c\nnets = 10.0.0.0/33", "nets"},
		{"[a]\nprivate = file://k\ncertificate = c\nnets = bogus", "nets"},
		{"[a]\nprivate = file://k\ncertificate = c\nconfig = missing.json", "config"},
		{"[a]\nprivate = file://k\ncertificate = c\ncolour = blue", "unknown key"},
	} {
		rf, err := parseRoots([]byte(bad.roots))
		if err == nil {
			_, err = rootsPlan(rf, dir)
		}
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: err %v, want %q", bad.roots, err, bad.want)
		}
	}
}

// A rendered plan is a configuration pkid loads, and its profiles decode
// to what ParseCFSSL makes of the JSON (usages, expiry, CA constraint,
// auth keys by name).
func TestRenderLoads(t *testing.T) {
	dir := t.TempDir()
	cfgJSON := []byte(`{"signing":{"default":{"expiry":"8760h","usages":["signing","key encipherment","server auth"],"auth_key":"k",
		"ocsp_url":"http://ocsp.example","issuer_urls":["http://ca.example/ca.crt"]},
	 "profiles":{"intermediate":{"expiry":"43800h","usages":["cert sign","crl sign"],"ca_constraint":{"is_ca":true,"max_path_len":0,"max_path_len_zero":true}},
	  "client":{"expiry":"1h","usages":["client auth"],"name_whitelist":"^.*\\.example\\.com$","backdate":"5m"}}},
	 "auth_keys":{"k":{"type":"standard","key":"0123456789abcdef0123456789abcdef"},"e":{"type":"standard","key":"env:PKID_TEST_KEY"}}}`)
	plan := &compatPlan{KeyDir: filepath.Join(dir, "keys"), PassphraseFile: filepath.Join(dir, "pass"), Listen: "127.0.0.1:0",
		Disable: []string{"scan"}, ClientCN: "^client$",
		DBConfig: "shared.json",
		CAs:      []*compatCA{{Label: "a", KeyID: "ca", Certificate: "ca.pem", SigningConfig: cfgJSON}, {Label: "b", KeyID: "cb", Certificate: "/abs/cb.pem", DBConfig: "own.json"}}}
	text, _, err := plan.render(dir) // without the secret: it stays a reference
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PKID_TEST_KEY", "00112233445566778899aabbccddeeff")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pkid.hcl")
	os.WriteFile(path, text, 0o600)
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		t.Fatalf("%s\n%s", diags, text)
	}
	if len(cfg.CAs) != 2 || cfg.CAs[0].Certificate != filepath.Join(dir, "ca.pem") || cfg.CAs[1].Certificate != "/abs/cb.pem" {
		t.Fatalf("CAs %+v", cfg.CAs)
	}
	// Per-root db configs: one certstore each, shared when the file is.
	if len(cfg.CertStores) != 2 || cfg.CAs[0].CertStore == "" || cfg.CAs[1].CertStore == "" || cfg.CAs[0].CertStore == cfg.CAs[1].CertStore {
		t.Errorf("certstores %d, CAs use %q and %q", len(cfg.CertStores), cfg.CAs[0].CertStore, cfg.CAs[1].CertStore)
	}
	if _, ok := cfg.Pkid.AuthKeys["a.k"]; !ok {
		t.Errorf("auth keys %v (want a.k, a.e: prefixed by label in a multi-CA plan)", cfg.Pkid.AuthKeys)
	}
	if string(cfg.Pkid.AuthKeys["a.e"].Key) != "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff" {
		t.Errorf("env: auth key not read from the environment")
	}
	got, ds := profile.DecodeHCL(cfg.CAs[0].Profiles)
	if ds.HasErrors() {
		t.Fatalf("%s\n%s", ds, text)
	}
	want, err := profile.ParseCFSSL(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"intermediate", "client"} {
		g, w := got.Profiles[name], want.Profiles[name]
		if g.Expiry != w.Expiry || g.KeyUsage != w.KeyUsage || len(g.ExtKeyUsage) != len(w.ExtKeyUsage) || g.CA != w.CA || g.Backdate != w.Backdate {
			t.Errorf("profile %s: HCL %+v, JSON %+v", name, g, w)
		}
	}
	if got.Default.AuthKey != "a.k" || got.Default.OCSPURL != "http://ocsp.example" || got.Default.Expiry != want.Default.Expiry {
		t.Errorf("default %+v", got.Default)
	}
	if got.Profiles["client"].NameWhitelist.String() != want.Profiles["client"].NameWhitelist.String() {
		t.Errorf("whitelist")
	}
	// A secret given as env: stays a reference in the text.
	if !bytes.Contains(text, []byte(`env("PKID_TEST_KEY")`)) || bytes.Contains(text, []byte("00112233445566778899aabbccddeeff")) {
		t.Errorf("env key rendered wrong:\n%s", text)
	}
}

func TestTranslateSigningRefuses(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"signing":{"default":{"remote":"r","expiry":"1h"}},"remotes":{"r":"127.0.0.1:1/x"}}`, "remote"},
		{`{"signing":{"default":{"expiry":"1h","usages":["signing"],"ct_log_servers":["ftp://log"]}}}`, "ct_log_servers"},
		{`{"signing":{"default":{"expiry":"1h","usages":["signing"]},"profiles":{"default":{"expiry":"1h","usages":["signing"]}}}}`, `named "default"`},
		{`{"signing":{"default":{"expiry":"1h","auth_key":"k"}},"auth_keys":{"k":{"type":"standard","key":"zz"}}}`, "hex"},
		{`{"nosigning":{}}`, "signing"},
		{`not json`, ""},
	} {
		f := hclwrite.NewEmptyFile()
		_, err := translateSigning([]byte(tc.json), "/", "", f.Body(), f.Body(), map[string]bool{}, &forwardTranslation{root: f.Body(), done: map[string]bool{}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.json, err, tc.want)
		}
	}
}

func FuzzParseRoots(f *testing.F) {
	f.Add([]byte("[primary]\nprivate = file://k.pem\ncertificate = c.pem\nnets = 10.0.0.0/8\n"))
	f.Add([]byte("# c\nx = 'y'\n[a]\n[b]\nz=\"q\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		rf, err := parseRoots(data)
		if err != nil {
			return
		}
		if len(rf.Labels) != len(rf.Roots) {
			t.Fatalf("labels %v roots %v", rf.Labels, rf.Roots)
		}
		_, _ = rootsPlan(rf, "/nonexistent")
	})
}

// Whatever CFSSL JSON is translated, the result is HCL pkid parses.
func FuzzTranslateSigning(f *testing.F) {
	f.Add([]byte(`{"signing":{"default":{"expiry":"1h","usages":["signing"],"auth_key":"k"}},"auth_keys":{"k":{"type":"standard","key":"0123456789abcdef0123456789abcdef"}}}`))
	f.Add([]byte(`{"signing":{"profiles":{"x\"y":{"expiry":"1h","usages":["signing"],"name_whitelist":"${a}%{b}"}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := hclwrite.NewEmptyFile()
		ca := file.Body().AppendNewBlock("ca", []string{"a"}).Body()
		pk := file.Body().AppendNewBlock("pkid", nil).Body()
		if _, err := translateSigning(data, "/", "", ca, pk, map[string]bool{}, &forwardTranslation{root: file.Body(), done: map[string]bool{}}); err != nil {
			return
		}
		if _, diags := hclwriteParse(file.Bytes()); diags != "" {
			t.Fatalf("rendered HCL does not parse: %s\n%s", diags, file.Bytes())
		}
	})
}

func hclwriteParse(src []byte) (*hclwrite.File, string) {
	f, diags := hclwrite.ParseConfig(src, "fuzz.hcl", hclPos)
	if diags.HasErrors() {
		return nil, diags.Error()
	}
	return f, ""
}

var hclPos = hcl.Pos{Line: 1, Column: 1}

// TestRenderCTLogServers: a profile's ct_log_servers become a ct block
// with CFSSL's every-log rule (required_scts = the number of logs) and a
// comment saying their SCTs are not verified; the configuration loads
// (with the warning) and decodes to the same policy ParseCFSSL gives.
func TestRenderCTLogServers(t *testing.T) {
	dir := t.TempDir()
	cfgJSON := []byte(`{"signing":{"default":{"expiry":"8760h","usages":["digital signature","server auth"],
		"ct_log_servers":["http://127.0.0.1:1/a","https://ct.example/b/"]}}}`)
	plan := &compatPlan{KeyDir: filepath.Join(dir, "keys"), PassphraseFile: filepath.Join(dir, "pass"),
		CAs: []*compatCA{{Label: "a", KeyID: "ca", Certificate: "ca.pem", SigningConfig: cfgJSON}}}
	text, _, err := plan.render(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# CFSSL's ct_log_servers: every log must return an SCT (N of N)", "required_scts      = 2", "required_operators = 1",
		`log_servers        = ["http://127.0.0.1:1/a", "https://ct.example/b/"]`} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("rendered configuration lacks %q:\n%s", want, text)
		}
	}
	path := filepath.Join(dir, "pkid.hcl")
	os.WriteFile(path, text, 0o600)
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		t.Fatalf("%s\n%s", diags, text)
	}
	profiles, diags := profile.DecodeHCL(cfg.CAs[0].Profiles)
	if diags.HasErrors() || len(diags) != 1 || !strings.Contains(diags[0].Summary, "not verified") {
		t.Fatalf("diagnostics %v", diags)
	}
	fromJSON, err := profile.ParseCFSSL(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	got, want := profiles.Default.CT, fromJSON.Default.CT
	if got == nil || want == nil || got.RequiredSCTs != want.RequiredSCTs || got.RequiredOperators != want.RequiredOperators ||
		!slices.Equal(got.LogServers, want.LogServers) || got.RequiredSCTs != 2 {
		t.Errorf("HCL policy %+v, JSON policy %+v", got, want)
	}
}
