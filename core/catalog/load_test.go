package catalog_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/cli"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

func TestMain(m *testing.M) {
	if os.Getenv(rpc.Handshake.MagicCookieKey) == rpc.Handshake.MagicCookieValue {
		os.Exit(cli.Run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func load(t *testing.T, body string, validateOnly bool) (*catalog.Loaded, *pluginhost.Host, string) {
	t.Helper()
	dir := t.TempDir()
	body = strings.ReplaceAll(body, "DIR", dir)
	path := filepath.Join(dir, "pkid.hcl")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	h := pluginhost.New(pluginhost.Options{})
	t.Cleanup(h.Close)
	l, diags := catalog.Load(context.Background(), catalog.LoadRequest{Config: cfg, Host: h, ValidateOnly: validateOnly})
	if diags.HasErrors() {
		var b strings.Builder
		cfg.WriteDiagnostics(&b, diags)
		t.Fatal(b.String())
	}
	return l, h, dir
}

func TestIsolation(t *testing.T) {
	for _, tc := range []struct {
		isolation string
		procs     int
	}{
		{"", 2}, // default: keystore and certstore each in their own process
		{`isolation = "process"`, 2},
		{`isolation = "inprocess"`, 0},
	} {
		t.Run(tc.isolation, func(t *testing.T) {
			l, h, _ := load(t, `
keystore "file" "a" {
  `+tc.isolation+`
  dir = "DIR/a"
  passphrase = "x"
  kdf_work_factor = 10
}
keystore "file" "b" {
  `+tc.isolation+`
  dir = "DIR/b"
  passphrase = "y"
  kdf_work_factor = 10
}
certstore "sqlite" "main" {
  `+tc.isolation+`
  path = "DIR/pkid.db"
}
`, false)
			if got := len(h.Processes()); got != tc.procs {
				t.Errorf("%d plugin processes; want %d (one per plugin type, shared by its instances)", got, tc.procs)
			}
			// Both instances work and are separate.
			ctx := context.Background()
			if _, err := l.KeyStores["a"].GenerateKey(ctx, sdk.GenerateKeyRequest{ID: "only-in-a", Algorithm: sdk.AlgEd25519}); err != nil {
				t.Fatal(err)
			}
			if _, err := l.KeyStores["b"].PublicKey(ctx, "only-in-a"); err == nil {
				t.Error("instance b sees instance a's key")
			}
			if err := l.CertStores["main"].List(ctx, sdk.ListFilter{}, func(*sdk.CertRecord) error { return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// pkid validate must not create anything (no key directory, no database)
// and must start no plugin process for builtins.
func TestValidateOnlyHasNoSideEffects(t *testing.T) {
	_, h, dir := load(t, `
keystore "file" "a" {
  dir = "DIR/keys"
  passphrase = "x"
}
certstore "sqlite" "main" {
  path = "DIR/pkid.db"
}
`, true)
	for _, p := range []string{"keys", "pkid.db"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("validate created %s", p)
		}
	}
	if n := len(h.Processes()); n != 0 {
		t.Errorf("validate started %d plugin processes for builtins", n)
	}
}
