package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

type result struct {
	code           int
	stdout, stderr string
}

func pkid(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")})
	return result{code, out.String(), errb.String()}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s mismatch:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// devConfig writes a config with a file keystore and a SQLite store in a
// fresh state directory.
func devConfig(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "passphrase"), []byte("test passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `
keystore "file" "dev" {
  dir             = "` + dir + `/keys"
  passphrase_file = "` + dir + `/passphrase"
  kdf_work_factor = 10
}
certstore "sqlite" "main" {
  path = "` + dir + `/pkid.db"
}
` + extra
	path := filepath.Join(dir, "pkid.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVersion(t *testing.T) {
	r := pkid(t, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "pkid ") {
		t.Fatalf("version: %+v", r)
	}
}

func TestValidate(t *testing.T) {
	cfg := devConfig(t, "")
	if r := pkid(t, "validate", "-config", cfg); r.code != 0 || !strings.Contains(r.stdout, "valid") {
		t.Fatalf("valid config: %+v", r)
	}
	// validate writes nothing: no key directory, no database.
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "keys")); !os.IsNotExist(err) {
		t.Errorf("validate created the key directory (err=%v)", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "pkid.db")); !os.IsNotExist(err) {
		t.Errorf("validate created the database (err=%v)", err)
	}
}

func TestValidateErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown type", `keystore "fiel" "dev" { dir = "/x" }`, `pkid.hcl:1:10`},
		{"plugin-reported", `keystore "file" "dev" {
  dir = "/x"
}`, "passphrase"},
		{"missing config", "", "no configuration"},
		{"bad profile", `keystore "file" "dev" {
  dir = "/x"
  passphrase = "p"
}
ca "c" {
  keystore = keystore.dev
  key = "k"
  profile "server" {
    usages = ["server-auth"]
    expiry = "90d"
  }
}`, `Did you mean "server auth"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PKID_CONFIG", "")
			args := []string{"validate"}
			if tc.body != "" {
				dir := t.TempDir()
				p := filepath.Join(dir, "pkid.hcl")
				os.WriteFile(p, []byte(tc.body), 0o600)
				args = append(args, "-config", p)
			}
			r := pkid(t, args...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want non-zero exit and %q in stderr; got %+v", tc.want, r)
			}
		})
	}
}

func TestKeystoreCommands(t *testing.T) {
	cfg := devConfig(t, "")
	r := pkid(t, "keystore", "dev", "generate", "-id", "ca1", "-algorithm", "ecdsa-p384", "-config", cfg)
	if r.code != 0 {
		t.Fatalf("generate: %+v", r)
	}
	block, _ := pem.Decode([]byte(r.stdout))
	if block == nil {
		t.Fatalf("generate printed no PEM: %q", r.stdout)
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		t.Fatal(err)
	}
	r = pkid(t, "keystore", "dev", "list", "-config", cfg)
	if r.code != 0 || !regexp.MustCompile(`(?m)^ca1\s+ecdsa-p384\s`).MatchString(r.stdout) {
		t.Fatalf("list: %+v", r)
	}
	pub := pkid(t, "keystore", "dev", "public", "-id", "ca1", "-config", cfg)
	if pub.code != 0 || pub.stdout != strings.SplitN(r.stdout, "\n", 1)[0] && !strings.Contains(pub.stdout, "BEGIN PUBLIC KEY") {
		t.Fatalf("public: %+v", pub)
	}
	// Errors: one clear line, non-zero exit.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"keystore", "dev", "public", "-id", "nope", "-config", cfg}, "not found"},
		{[]string{"keystore", "dev", "generate", "-id", "ca1", "-config", cfg}, "already exists"},
		{[]string{"keystore", "dev", "generate", "-id", "x", "-algorithm", "rsa-1024", "-config", cfg}, "rsa-1024"},
		{[]string{"keystore", "other", "list", "-config", cfg}, `no keystore named "other"`},
		{[]string{"keystore", "dev", "frobnicate", "-config", cfg}, `unknown command "frobnicate"`},
	} {
		r := pkid(t, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: want failure mentioning %q, got %+v", tc.args, tc.want, r)
		}
	}
}

func TestWrongPassphraseRefusesToStart(t *testing.T) {
	cfg := devConfig(t, "")
	if r := pkid(t, "keystore", "dev", "generate", "-id", "k", "-config", cfg); r.code != 0 {
		t.Fatalf("generate: %+v", r)
	}
	os.WriteFile(filepath.Join(filepath.Dir(cfg), "passphrase"), []byte("wrong"), 0o600)
	r := pkid(t, "keystore", "dev", "list", "-config", cfg)
	if r.code == 0 || !strings.Contains(r.stderr, "wrong passphrase") || !strings.Contains(r.stderr, `keystore "file" "dev"`) {
		t.Fatalf("want a clear wrong-passphrase error naming the block; got %+v", r)
	}
}

func TestCertstoreCommands(t *testing.T) {
	cfg := devConfig(t, "")
	r := pkid(t, "certstore", "main", "list", "-config", cfg, "-format", "json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("list json on empty store: %+v", r)
	}
	r = pkid(t, "certstore", "main", "list", "-config", cfg, "-expiring-within", "14d", "-status", "good")
	if r.code != 0 || !strings.Contains(r.stderr, "0 certificates") {
		t.Fatalf("list: %+v", r)
	}
	r = pkid(t, "certstore", "main", "get", "-serial", "1", "-aki", "AB:CD", "-config", cfg)
	if r.code == 0 || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("get missing: %+v", r)
	}
	r = pkid(t, "certstore", "main", "list", "-config", cfg, "-expiring-within", "soon")
	if r.code != 1 || !strings.Contains(r.stderr, "invalid duration") {
		t.Fatalf("bad duration: %+v", r)
	}
}

func TestPluginListAndSchema(t *testing.T) {
	r := pkid(t, "plugin", "list")
	if r.code != 0 {
		t.Fatalf("plugin list: %+v", r)
	}
	golden(t, "plugin-list", r.stdout)
	r = pkid(t, "plugin", "schema", "keystore", "file")
	if r.code != 0 {
		t.Fatalf("plugin schema: %+v", r)
	}
	golden(t, "plugin-schema-keystore-file", r.stdout)
	if r := pkid(t, "plugin", "schema", "keystore", "nope"); r.code == 0 {
		t.Fatalf("unknown plugin schema succeeded: %+v", r)
	}
}
