package keystorefile_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	keystorefile "github.com/pkid/pkid/plugins/keystore-file"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

const testPassphrase = "correct horse battery staple"

// cfgFor builds the JSON the core would send; work factor 10 keeps tests
// fast.
func cfgFor(dir, passphrase string) sdk.Config {
	js, _ := json.Marshal(map[string]any{
		"dir": dir, "passphrase": passphrase, "passphrase_file": nil, "kdf_work_factor": 10,
	})
	return sdk.Config{Kind: sdk.KindKeyStore, Instance: "test", JSON: js}
}

func configure(t testing.TB, dir, passphrase string) (sdk.KeyStore, error) {
	t.Helper()
	inst, err := keystorefile.New().Configure(context.Background(), cfgFor(dir, passphrase))
	if err != nil {
		return nil, err
	}
	ks, ok := inst.(sdk.KeyStore)
	if !ok {
		t.Fatalf("Configure returned %T, not an sdk.KeyStore", inst)
	}
	return ks, nil
}

func mustConfigure(t testing.TB, dir, passphrase string) sdk.KeyStore {
	t.Helper()
	ks, err := configure(t, dir, passphrase)
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { ks.Close() })
	return ks
}

func TestConformance(t *testing.T) {
	plugintest.TestKeyStore(t, func(t *testing.T) sdk.KeyStore {
		return mustConfigure(t, filepath.Join(t.TempDir(), "keys"), testPassphrase)
	})
}

func TestInfoAndSchema(t *testing.T) {
	p := keystorefile.New()
	info := p.Info()
	if info.Name != "file" || len(info.Kinds) != 1 || info.Kinds[0] != sdk.KindKeyStore {
		t.Errorf("Info = %+v", info)
	}
	if p.Schema(sdk.KindCertStore) != nil {
		t.Error("Schema(certstore) is not nil")
	}
	attrs := map[string]sdk.Attribute{}
	for _, a := range p.Schema(sdk.KindKeyStore).Attributes {
		attrs[a.Name] = a
	}
	if !attrs["dir"].Required || !attrs["passphrase"].Sensitive || attrs["kdf_work_factor"].Default != "18" {
		t.Errorf("schema attributes = %+v", attrs)
	}
}

func TestWrongPassphrase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ks := mustConfigure(t, dir, testPassphrase)
	if _, err := ks.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: "a", Algorithm: sdk.AlgECDSAP256}); err != nil {
		t.Fatal(err)
	}
	ks.Close()

	_, err := configure(t, dir, "not the passphrase")
	if !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Fatalf("Configure with a wrong passphrase: %v, want ErrUnauthenticated", err)
	}
	want := `keystore-file: wrong passphrase for key directory "` + dir + `"`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
	if strings.Contains(err.Error(), "not the passphrase") || strings.Contains(err.Error(), testPassphrase) {
		t.Errorf("error %q reveals a passphrase", err)
	}
}

func TestPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ks := mustConfigure(t, dir, testPassphrase)
	ctx := t.Context()
	for _, req := range []sdk.GenerateKeyRequest{
		{ID: "p256", Algorithm: sdk.AlgECDSAP256, Attributes: map[string]string{"purpose": "ocsp"}},
		{ID: "ed", Algorithm: sdk.AlgEd25519},
		{ID: "rsa", Algorithm: sdk.AlgRSA2048},
		{Algorithm: sdk.AlgECDSAP384},
	} {
		if _, err := ks.GenerateKey(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ks.(sdk.KeyImporter).ImportKey(ctx, sdk.ImportKeyRequest{ID: "imported", PEM: ecSEC1PEM(t)}); err != nil {
		t.Fatal(err)
	}
	before, err := ks.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.ListKeys(ctx); !errors.Is(err, sdk.ErrFailedPrecondition) {
		t.Errorf("ListKeys after Close: %v, want ErrFailedPrecondition", err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := ks.Sign(ctx, sdk.SignRequest{KeyID: "p256", Digest: d[:], Hash: crypto.SHA256}); !errors.Is(err, sdk.ErrFailedPrecondition) {
		t.Errorf("Sign after Close: %v, want ErrFailedPrecondition", err)
	}

	ks2 := mustConfigure(t, dir, testPassphrase)
	after, err := ks2.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) || len(after) != 5 {
		t.Fatalf("reopened store lists %d keys, want %d", len(after), len(before))
	}
	for i := range after {
		a, b := after[i], before[i]
		if i > 0 && after[i-1].ID >= a.ID {
			t.Errorf("ListKeys not sorted: %q before %q", after[i-1].ID, a.ID)
		}
		if a.ID != b.ID || a.Algorithm != b.Algorithm || !a.CreatedAt.Equal(b.CreatedAt) ||
			!a.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(b.PublicKey) ||
			a.Attributes["purpose"] != b.Attributes["purpose"] {
			t.Errorf("key %d after reopen = %+v, before = %+v", i, a, b)
		}
		req := sdk.SignRequest{KeyID: a.ID, Digest: d[:], Hash: crypto.SHA256}
		if a.Algorithm == sdk.AlgEd25519 {
			req.Hash = 0
		}
		sig, err := ks2.Sign(ctx, req)
		if err != nil {
			t.Fatalf("Sign(%s) after reopen: %v", a.ID, err)
		}
		if err := plugintest.VerifySignature(a.PublicKey, req.Digest, sig, req); err != nil {
			t.Errorf("Sign(%s) after reopen: %v", a.ID, err)
		}
	}
}

func TestFileModes(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "keys")
	ks := mustConfigure(t, dir, testPassphrase)
	if _, err := ks.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: "k", Algorithm: sdk.AlgEd25519}); err != nil {
		t.Fatal(err)
	}
	wantMode(t, dir, os.ModeDir|0o700)
	wantMode(t, filepath.Join(dir, "keystore.identity.age"), 0o600)
	wantMode(t, filepath.Join(dir, "k.key.age"), 0o600)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want the identity and one key (no temporary files)", len(entries))
	}

	// An existing, empty directory is tightened when it is initialised.
	loose := filepath.Join(parent, "loose")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	mustConfigure(t, loose, testPassphrase)
	wantMode(t, loose, os.ModeDir|0o700)
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("%s has mode %v, want %v", filepath.Base(path), fi.Mode(), want)
	}
}

func TestNoPlaintextOnDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ks := mustConfigure(t, dir, testPassphrase)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(key)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	pemText := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	if _, err := ks.(sdk.KeyImporter).ImportKey(t.Context(), sdk.ImportKeyRequest{ID: "secret", PEM: pemText}); err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{
		"PKCS#8 DER":      pkcs8,
		"SEC1 DER":        sec1,
		"scalar":          key.D.Bytes(),
		"PEM":             pemText,
		"PEM header":      []byte("PRIVATE KEY"),
		"base64 PKCS#8":   []byte(base64.StdEncoding.EncodeToString(pkcs8)),
		"envelope fields": []byte(`"pkcs8"`),
		"passphrase":      []byte(testPassphrase),
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for what, s := range secrets {
			if bytes.Contains(data, s) {
				t.Errorf("%s contains the %s in plaintext", e.Name(), what)
			}
		}
	}
}

func TestLostIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ks := mustConfigure(t, dir, testPassphrase)
	if _, err := ks.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: "k", Algorithm: sdk.AlgEd25519}); err != nil {
		t.Fatal(err)
	}
	ks.Close()
	if err := os.Remove(filepath.Join(dir, "keystore.identity.age")); err != nil {
		t.Fatal(err)
	}
	if _, err := configure(t, dir, testPassphrase); err == nil || !strings.Contains(err.Error(), "holds keys but no keystore.identity.age") {
		t.Fatalf("Configure without identity: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keystore.identity.age")); err == nil {
		t.Error("a new identity was written next to keys it cannot decrypt")
	}
}

func TestSwappedKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ks := mustConfigure(t, dir, testPassphrase)
	if _, err := ks.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: "a", Algorithm: sdk.AlgEd25519}); err != nil {
		t.Fatal(err)
	}
	ks.Close()
	if err := os.Rename(filepath.Join(dir, "a.key.age"), filepath.Join(dir, "b.key.age")); err != nil {
		t.Fatal(err)
	}
	if _, err := configure(t, dir, testPassphrase); err == nil || !strings.Contains(err.Error(), `file holds key "a", not "b"`) {
		t.Fatalf("Configure with a renamed key file: %v", err)
	}
}

func TestInvalidIDs(t *testing.T) {
	ks := mustConfigure(t, filepath.Join(t.TempDir(), "keys"), testPassphrase)
	for _, id := range []string{"../x", "a/b", ".hidden", "-dash", "a b", "é", strings.Repeat("a", 129), "keys\x00"} {
		_, err := ks.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: id, Algorithm: sdk.AlgEd25519})
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("GenerateKey(id %q): %v, want ErrInvalidArgument", id, err)
		}
	}
	if _, err := ks.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: strings.Repeat("a", 128), Algorithm: sdk.AlgEd25519}); err != nil {
		t.Errorf("GenerateKey(128-character id): %v", err)
	}
}

func TestSignPolicy(t *testing.T) {
	ks := mustConfigure(t, filepath.Join(t.TempDir(), "keys"), testPassphrase)
	ctx := t.Context()
	for _, id := range []string{"p256", "rsa"} {
		alg := map[string]string{"p256": sdk.AlgECDSAP256, "rsa": sdk.AlgRSA2048}[id]
		if _, err := ks.GenerateKey(ctx, sdk.GenerateKeyRequest{ID: id, Algorithm: alg}); err != nil {
			t.Fatal(err)
		}
	}
	d1 := sha1.Sum([]byte("x"))
	d256 := sha256.Sum256([]byte("x"))
	for name, req := range map[string]sdk.SignRequest{
		"SHA-1":            {KeyID: "rsa", Digest: d1[:], Hash: crypto.SHA1},
		"unknown hash":     {KeyID: "p256", Digest: d256[:], Hash: crypto.Hash(200)},
		"no hash (ECDSA)":  {KeyID: "p256", Digest: d256[:]},
		"no hash (RSA)":    {KeyID: "rsa", Digest: d256[:]},
		"bad salt length":  {KeyID: "rsa", Digest: d256[:], Hash: crypto.SHA256, PSS: true, SaltLength: -7},
		"salt too long":    {KeyID: "rsa", Digest: d256[:], Hash: crypto.SHA256, PSS: true, SaltLength: 4096},
		"empty digest RSA": {KeyID: "rsa", Hash: crypto.SHA256},
	} {
		if _, err := ks.Sign(ctx, req); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("Sign(%s): %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestConfigureErrors(t *testing.T) {
	p := keystorefile.New()
	_, err := p.Configure(t.Context(), sdk.Config{Kind: sdk.KindKeyStore, JSON: json.RawMessage(`{"dir":null,"passphrase":"x"}`)})
	var de *sdk.DiagnosticsError
	if !errors.As(err, &de) {
		t.Errorf("Configure without dir: %v, want *sdk.DiagnosticsError", err)
	}
	// The kind is checked once, by the host's side: the sdk's adapter
	// refuses it before the plugin sees it.
	c := plugintest.ServeGRPC(t, p)
	if err := c.Configure(t.Context(), sdk.Config{Kind: sdk.KindCertStore, JSON: cfgFor(t.TempDir(), "x").JSON}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("Configure(certstore) = %v, want ErrInvalidArgument", err)
	}
}

func TestPassphraseFile(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "keys")
	ks := mustConfigure(t, dir, testPassphrase)
	ks.Close()
	pf := filepath.Join(tmp, "pass")
	if err := os.WriteFile(pf, []byte(testPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(map[string]any{"dir": dir, "passphrase": nil, "passphrase_file": pf, "kdf_work_factor": nil})
	inst, err := keystorefile.New().Configure(t.Context(), sdk.Config{Kind: sdk.KindKeyStore, JSON: js})
	if err != nil {
		t.Fatalf("Configure with passphrase_file: %v", err)
	}
	inst.Close()

	if err := os.WriteFile(pf, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keystorefile.New().Configure(t.Context(), sdk.Config{Kind: sdk.KindKeyStore, JSON: js}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("Configure with an empty passphrase_file: %v", err)
	}
}

func TestValidateConfig(t *testing.T) {
	for _, c := range []struct {
		name     string
		json     string
		wantPath string // "" = no errors
	}{
		{"ok", `{"dir":"/k","passphrase":"p","passphrase_file":null,"kdf_work_factor":null}`, ""},
		{"ok file", `{"dir":"/k","passphrase":null,"passphrase_file":"/p","kdf_work_factor":18}`, ""},
		{"ok min factor", `{"dir":"/k","passphrase":"p","kdf_work_factor":10}`, ""},
		{"ok max factor", `{"dir":"/k","passphrase":"p","kdf_work_factor":22}`, ""},
		{"missing dir", `{"dir":null,"passphrase":"p"}`, "dir"},
		{"empty dir", `{"dir":"","passphrase":"p"}`, "dir"},
		{"both", `{"dir":"/k","passphrase":"p","passphrase_file":"/p"}`, "passphrase_file"},
		{"neither", `{"dir":"/k","passphrase":null,"passphrase_file":null}`, "passphrase"},
		{"empty passphrase", `{"dir":"/k","passphrase":""}`, "passphrase"},
		{"empty passphrase_file", `{"dir":"/k","passphrase_file":""}`, "passphrase_file"},
		{"factor too low", `{"dir":"/k","passphrase":"p","kdf_work_factor":9}`, "kdf_work_factor"},
		{"factor too high", `{"dir":"/k","passphrase":"p","kdf_work_factor":23}`, "kdf_work_factor"},
		{"factor fractional", `{"dir":"/k","passphrase":"p","kdf_work_factor":12.5}`, "kdf_work_factor"},
		{"not an object", `[]`, "-"},
	} {
		t.Run(c.name, func(t *testing.T) {
			diags := keystorefile.New().ValidateConfig(t.Context(), sdk.Config{Kind: sdk.KindKeyStore, JSON: json.RawMessage(c.json)})
			if c.wantPath == "" {
				if diags.HasErrors() {
					t.Fatalf("unexpected errors: %v", diags.Err())
				}
				return
			}
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			if c.wantPath == "-" {
				return
			}
			for _, d := range diags {
				if d.Severity == sdk.SeverityError && len(d.Path) == 1 && d.Path[0] == c.wantPath {
					return
				}
			}
			t.Errorf("no error at %q in %+v", c.wantPath, diags)
		})
	}
	if d := keystorefile.New().ValidateConfig(t.Context(), sdk.Config{Kind: sdk.KindKeyStore,
		JSON: json.RawMessage(`{"dir":"/k","passphrase":"p","kdf_work_factor":10}`)}); len(d) != 1 || d[0].Severity != sdk.SeverityWarning {
		t.Errorf("a low work factor gives %+v, want one warning", d)
	}
}

func ecSEC1PEM(t testing.TB) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}
