package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
)

var updateImportGolden = flag.Bool("update-import-golden", false, "rewrite testdata/configimport/*.golden")

// CFSSL's own example configurations with remotes (and one with
// auth_remote) translate into remote blocks and forwarding profiles that
// load, with no key written into the output.
func TestConfigImportForwarding(t *testing.T) {
	t.Setenv("MY_LOCAL_KEY", "00112233445566778899aabbccddeeff")
	t.Setenv("PKID_REMOTE_AUTH_KEY_UPSTREAM", "0123456789ABCDEF0123456789ABCDEF")
	for _, name := range []string{"cfssl_valid_config_auth", "cfssl_valid_config_auth_no_default", "auth_remote"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "configimport", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			plan := &compatPlan{KeyDir: "/keys", PassphraseFile: "/pass", CAs: []*compatCA{{Label: "default", KeyID: "ca", Certificate: "/ca.pem", SigningConfig: data}}}
			text, _, err := plan.render("/cfg")
			if err != nil {
				t.Fatal(err)
			}
			out := text
			if len(plan.notes) > 0 {
				out = append(out, []byte("# plan:\n# "+strings.Join(plan.notes, "\n# ")+"\n")...)
			}
			golden := filepath.Join("testdata", "configimport", name+".golden")
			if *updateImportGolden {
				os.WriteFile(golden, out, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("got:\n%s\nwant:\n%s", out, want)
			}
			if bytes.Contains(bytes.ToLower(text), []byte("0123456789abcdef0123456789abcdef")) && name == "auth_remote" {
				t.Error("the auth_remote key was copied into the configuration")
			}
			path := filepath.Join(t.TempDir(), "pkid.hcl")
			os.WriteFile(path, text, 0o600)
			cfg, diags := config.Load(path)
			if diags.HasErrors() {
				t.Fatalf("%s\n%s", diags, text)
			}
			got, ds := profile.DecodeHCL(cfg.CAs[0].Profiles)
			if ds.HasErrors() {
				t.Fatalf("%s\n%s", ds, text)
			}
			src, err := profile.ParseCFSSL(data)
			if err != nil && name != "auth_remote" {
				t.Fatal(err)
			}
			if src != nil {
				for n, p := range src.Profiles {
					if p.Remote != "" && got.Profiles[n].Remote == "" {
						t.Errorf("profile %s lost its remote", n)
					}
					if p.AuthKey != got.Profiles[n].AuthKey {
						t.Errorf("profile %s: auth_key %q, want %q", n, got.Profiles[n].AuthKey, p.AuthKey)
					}
				}
			}
		})
	}
}
