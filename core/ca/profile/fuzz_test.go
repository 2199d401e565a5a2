package profile

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseCFSSL(f *testing.F) {
	f.Add(DefaultConfigJSON())
	if data, err := os.ReadFile(filepath.Join("testdata", "realistic.json")); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		`{}`, `{"signing": null}`, `{"signing": {}}`, `[]`, `{"signing": {"profiles": {"a": []}}}`,
		`{"signing": {"default": {"remote": "r", "auth_remote": {"remote": "r"}}}, "remotes": {"r": ","}}`,
		`{"signing": {"default": {"expiry": "1d", "name_whitelist": "(", "lint_error_level": 3}}}`,
		`{"signing": {"default": {"expiry": "1h", "Policies": [{"ID": "1.2", "Qualifiers": [{"Type": "id-qt-cps"}]}], "CSRWhitelist": {"URIs": true}}}}`,
		`{"auth_keys": {"k": {"type": "standard", "key": "env:"}}, "signing": {}}`,
		`{"signing": {"default": {"expiry": "1h", "ca_constraint": {"is_ca": true, "max_path_len": -1}, "allowed_extensions": ["2.5.29.99999999999999999999"]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		isCfg := IsCFSSLConfig(data)
		cfg, err := ParseCFSSL(data)
		if err != nil {
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		if !isCfg {
			t.Fatalf("parsed but IsCFSSLConfig = false: %q", data)
		}
		if cfg.Default == nil {
			t.Fatal("nil default")
		}
		if _, err := cfg.Lookup(""); err != nil {
			t.Fatal(err)
		}
		for name, p := range cfg.Profiles {
			if got, err := cfg.Lookup(name); err != nil || (name != "" && got != p) {
				t.Fatalf("Lookup(%q): %v", name, err)
			}
			_ = UsageNames(p)
			_, _ = DropUnfitUsages(p, nil)
		}
	})
}
