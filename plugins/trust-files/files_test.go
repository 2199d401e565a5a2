package trustfiles_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	trustfiles "github.com/pkid/pkid/plugins/trust-files"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// ca is a test CA certificate and its key.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64

func newCA(t *testing.T, cn string, parent *ca, isCA bool) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca{cert: cert, key: key}
}

func pemOf(cs ...*ca) []byte {
	var out []byte
	for _, c := range cs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})...)
	}
	return out
}

func write(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func fingerprint(c *ca) string {
	s := sha1.Sum(c.cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(s[:])
}

// configure starts an in-process instance of the plugin with cfg.
func configure(t *testing.T, cfg map[string]any) (sdk.Trust, error) {
	t.Helper()
	for _, k := range []string{"roots", "intermediates", "metadata", "system", "poll_interval"} {
		if _, ok := cfg[k]; !ok {
			cfg[k] = nil
		}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := trustfiles.New().Configure(t.Context(), sdk.Config{Kind: sdk.KindTrust, Instance: "t", JSON: b})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { inst.Close() })
	return inst.(sdk.Trust), nil
}

// fixture is a CFSSL-style layout: a ca-bundle, an int-bundle, a directory
// of intermediates and a platform-metadata file with two platforms.
type fixture struct {
	dir                      string
	rootA, rootB, intA, intB *ca
	cfg                      map[string]any
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{dir: t.TempDir()}
	f.rootA = newCA(t, "Root A", nil, true)
	f.rootB = newCA(t, "Root B", nil, true)
	f.intA = newCA(t, "Int A", f.rootA, true)
	f.intB = newCA(t, "Int B", f.rootB, true)
	write(t, filepath.Join(f.dir, "ca-bundle.crt"), append([]byte("# Issuer: Root A\n"), pemOf(f.rootA, f.rootB)...))
	write(t, filepath.Join(f.dir, "int-bundle.crt"), pemOf(f.intA))
	write(t, filepath.Join(f.dir, "ints", "b.der"), f.intB.cert.Raw)
	write(t, filepath.Join(f.dir, "ints", "README"), []byte("not read: no certificate extension"))
	write(t, filepath.Join(f.dir, "stores", "old.pem"), pemOf(f.rootA))
	write(t, filepath.Join(f.dir, "ca-bundle.crt.metadata"), []byte(`[
		{"name":"old","weight":10,"hash_algo":"SHA1","key_algo":"RSA","keystore":"stores/old.pem"},
		{"name":"new","weight":5,"hash_algo":"SHA2","key_algo":"ECDSA256"}]`))
	f.cfg = map[string]any{
		"roots":         []string{filepath.Join(f.dir, "ca-bundle.crt")},
		"intermediates": []string{filepath.Join(f.dir, "int-bundle.crt"), filepath.Join(f.dir, "ints")},
		"metadata":      filepath.Join(f.dir, "ca-bundle.crt.metadata"),
		"poll_interval": "100ms",
	}
	return f
}

func TestConformance(t *testing.T) {
	plugintest.TestTrust(t, func(t *testing.T) sdk.Trust {
		tr, err := configure(t, newFixture(t).cfg)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	})
}

func TestConformanceSystem(t *testing.T) {
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("no OS root store on this machine")
	}
	plugintest.TestTrust(t, func(t *testing.T) sdk.Trust {
		tr, err := configure(t, map[string]any{"system": true})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	})
}

func TestPluginKit(t *testing.T) {
	cfg := func(s string) json.RawMessage { return json.RawMessage(s) }
	plugintest.TestPlugin(t, trustfiles.New(), plugintest.PluginConfigs{
		Kind:  sdk.KindTrust,
		Valid: cfg(`{"roots":["/etc/pkid/ca-bundle.crt"],"intermediates":null,"metadata":null,"system":null,"poll_interval":"30s"}`),
		Invalid: []plugintest.InvalidConfig{
			{Name: "nothing", JSON: cfg(`{"roots":null,"intermediates":null,"metadata":null,"system":false,"poll_interval":null}`), Path: []string{"roots"}},
			{Name: "empty path", JSON: cfg(`{"roots":[""],"intermediates":null,"metadata":null,"system":null,"poll_interval":null}`), Path: []string{"roots"}},
			{Name: "fast poll", JSON: cfg(`{"roots":["r"],"intermediates":null,"metadata":null,"system":null,"poll_interval":"1ms"}`), Path: []string{"poll_interval"}},
			{Name: "empty metadata", JSON: cfg(`{"roots":["r"],"intermediates":null,"metadata":"","system":null,"poll_interval":null}`), Path: []string{"metadata"}},
		},
	})
}

func list(t *testing.T, tr sdk.Trust) map[string]sdk.TrustCert {
	t.Helper()
	out := map[string]sdk.TrustCert{}
	if err := tr.Certificates(t.Context(), func(c *sdk.TrustCert) error {
		cert, err := x509.ParseCertificate(c.DER)
		if err != nil {
			return err
		}
		out[cert.Subject.CommonName] = *c
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCFSSLLayout(t *testing.T) {
	f := newFixture(t)
	// The same root again in the intermediates stays one root.
	write(t, filepath.Join(f.dir, "ints", "dup.pem"), pemOf(f.rootA))
	tr, err := configure(t, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := list(t, tr)
	want := map[string]bool{"Root A": true, "Root B": true, "Int A": false, "Int B": false}
	if len(got) != len(want) {
		t.Errorf("listed %v, want %v", slices.Collect(mapsKeys(got)), want)
	}
	for cn, root := range want {
		c, ok := got[cn]
		if !ok || c.Root != root {
			t.Errorf("%s: listed %v root=%v, want root=%v", cn, ok, c.Root, root)
		}
	}
	if s := got["Int B"].Source; s != filepath.Join(f.dir, "ints", "b.der") {
		t.Errorf("Int B source %q, want the DER file", s)
	}
	n := 0
	tr.Certificates(t.Context(), func(*sdk.TrustCert) error { n++; return nil })
	if n != 4 {
		t.Errorf("%d certificates listed, want 4 (duplicates merged)", n)
	}

	ps, err := tr.Platforms(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantP := []sdk.Platform{
		{Name: "old", Weight: 10, HashAlgo: "SHA1", KeyAlgo: "RSA", Roots: []string{fingerprint(f.rootA)}},
		{Name: "new", Weight: 5, HashAlgo: "SHA2", KeyAlgo: "ECDSA256", AllRoots: true},
	}
	if len(ps) != 2 {
		t.Fatalf("platforms %+v, want %+v", ps, wantP)
	}
	for i := range wantP {
		if ps[i].Name != wantP[i].Name || ps[i].Weight != wantP[i].Weight || ps[i].HashAlgo != wantP[i].HashAlgo ||
			ps[i].KeyAlgo != wantP[i].KeyAlgo || ps[i].AllRoots != wantP[i].AllRoots || !slices.Equal(ps[i].Roots, wantP[i].Roots) {
			t.Errorf("platform %d = %+v, want %+v", i, ps[i], wantP[i])
		}
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestCFSSLTestdata reads CFSSL's own bundler test files: its ca-bundle,
// int-bundle and platform metadata (with relative keystores).
func TestCFSSLTestdata(t *testing.T) {
	dir := "/work/shared/testdata/bundler"
	if d := os.Getenv("PKID_CFSSL_TESTDATA"); d != "" {
		dir = d
	}
	home, _ := os.UserHomeDir()
	if _, err := os.Stat(dir); err != nil {
		dir = filepath.Join(home, "go/pkg/mod/github.com/cloudflare/cfssl@v1.6.5/bundler/testdata")
	}
	if _, err := os.Stat(filepath.Join(dir, "ca-bundle.crt.metadata")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CFSSL bundler testdata missing: %v", err)
		}
		t.Skip("CFSSL bundler testdata not in the module cache")
	}
	tr, err := configure(t, map[string]any{
		"roots":         []string{filepath.Join(dir, "ca-bundle.pem")},
		"intermediates": []string{filepath.Join(dir, "int-bundle.pem")},
		"metadata":      filepath.Join(dir, "ca-bundle.crt.metadata"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := tr.Platforms(t.Context())
	if err != nil || len(ps) == 0 {
		t.Fatalf("platforms %v, %v; want CFSSL's", ps, err)
	}
	for _, p := range ps {
		if !p.AllRoots && len(p.Roots) == 0 {
			t.Errorf("platform %s trusts nothing", p.Name)
		}
	}
	if len(list(t, tr)) == 0 {
		t.Error("no certificates from CFSSL's bundles")
	}
}

func TestConfigureDiagnostics(t *testing.T) {
	f := newFixture(t)
	leaf := newCA(t, "leaf.example", f.intA, false)
	garbage := write(t, filepath.Join(f.dir, "garbage.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	keyFile := write(t, filepath.Join(f.dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}))
	text := write(t, filepath.Join(f.dir, "text.crt"), []byte("hello"))
	tests := []struct {
		name string
		cfg  map[string]any
		want []string // in the error text
	}{
		{"garbage PEM", map[string]any{"roots": []string{garbage}}, []string{garbage, "certificate 1"}},
		{"private key", map[string]any{"roots": []string{keyFile}}, []string{keyFile, `"PRIVATE KEY" is not a certificate`}},
		{"not a certificate", map[string]any{"intermediates": []string{text}}, []string{text, "neither PEM nor DER"}},
		{"missing file", map[string]any{"roots": []string{filepath.Join(f.dir, "nope.pem")}}, []string{"nope.pem", "no such file"}},
		{"unknown hash", map[string]any{"roots": f.cfg["roots"], "metadata": write(t, filepath.Join(f.dir, "m1.json"),
			[]byte(`[{"name":"x","weight":1,"hash_algo":"MD5","key_algo":"RSA"}]`))}, []string{"m1.json", `unknown hash_algo "MD5"`}},
		{"unknown key", map[string]any{"roots": f.cfg["roots"], "metadata": write(t, filepath.Join(f.dir, "m2.json"),
			[]byte(`[{"name":"x","weight":1,"hash_algo":"SHA2","key_algo":"DSA"}]`))}, []string{"m2.json", `unknown key_algo "DSA"`}},
		{"missing keystore", map[string]any{"roots": f.cfg["roots"], "metadata": write(t, filepath.Join(f.dir, "m3.json"),
			[]byte(`[{"name":"x","weight":1,"hash_algo":"SHA2","key_algo":"RSA","keystore":"gone.pem"}]`))}, []string{"m3.json", "gone.pem"}},
		{"bad JSON", map[string]any{"roots": f.cfg["roots"], "metadata": write(t, filepath.Join(f.dir, "m4.json"),
			[]byte(`{"name":"x"}`))}, []string{"m4.json", "unparseable platform metadata"}},
		{"negative weight", map[string]any{"roots": f.cfg["roots"], "metadata": write(t, filepath.Join(f.dir, "m5.json"),
			[]byte(`[{"name":"x","weight":-1,"hash_algo":"SHA2","key_algo":"RSA"}]`))}, []string{"m5.json", "weight"}},
		{"twice", map[string]any{"roots": f.cfg["roots"], "metadata": write(t, filepath.Join(f.dir, "m6.json"),
			[]byte(`[{"name":"x","weight":1,"hash_algo":"SHA2","key_algo":"RSA"},{"name":"x","weight":1,"hash_algo":"SHA2","key_algo":"RSA"}]`))}, []string{"m6.json", "name used twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := configure(t, tt.cfg)
			var de *sdk.DiagnosticsError
			if !errors.As(err, &de) {
				t.Fatalf("Configure: %v, want diagnostics", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}

	// A leaf among the intermediates is skipped with a warning.
	mixed := write(t, filepath.Join(f.dir, "mixed.pem"), append(pemOf(f.intA), pemOf(leaf)...))
	tr, err := configure(t, map[string]any{"roots": f.cfg["roots"], "intermediates": []string{mixed}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := list(t, tr)["leaf.example"]; ok {
		t.Error("a leaf certificate is listed")
	}
}

func TestSystemStore(t *testing.T) {
	f := newFixture(t)
	t.Setenv("SSL_CERT_FILE", filepath.Join(f.dir, "ca-bundle.crt"))
	tr, err := configure(t, map[string]any{"system": true})
	if err != nil {
		t.Fatal(err)
	}
	got := list(t, tr)
	if c := got["Root A"]; !c.Root || c.Source != "system" || len(got) != 2 {
		t.Errorf("system store listed %v", got)
	}
}

// waitChange waits (bounded) for a notification.
func waitChange(t *testing.T, ch <-chan struct{}) bool {
	t.Helper()
	select {
	case _, ok := <-ch:
		return ok
	case <-time.After(5 * time.Second):
		return false
	}
}

func TestWatchDirectory(t *testing.T) {
	f := newFixture(t)
	tr, err := configure(t, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := tr.Watch(t.Context())
	if err != nil || ch == nil {
		t.Fatalf("Watch: %v, %v", ch, err)
	}

	// A CI job drops a new intermediate into the directory.
	intC := newCA(t, "Int C", f.rootA, true)
	write(t, filepath.Join(f.dir, "ints", "c.pem"), pemOf(intC))
	if !waitChange(t, ch) {
		t.Fatal("no notification after a file was added")
	}
	if _, ok := list(t, tr)["Int C"]; !ok {
		t.Error("the added intermediate is not listed after the notification")
	}

	// A half-written file does not replace good content.
	write(t, filepath.Join(f.dir, "ints", "d.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAA"))
	select {
	case <-ch:
		t.Error("notified for content that does not parse")
	case <-time.After(400 * time.Millisecond):
	}
	if _, ok := list(t, tr)["Int C"]; !ok {
		t.Error("a bad reload replaced the content")
	}
	// Once fixed, the change goes through.
	intD := newCA(t, "Int D", f.rootA, true)
	write(t, filepath.Join(f.dir, "ints", "d.pem"), pemOf(intD))
	if !waitChange(t, ch) {
		t.Fatal("no notification after the file was fixed")
	}
	if _, ok := list(t, tr)["Int D"]; !ok {
		t.Error("the fixed intermediate is not listed")
	}

	// Removing a file is a change too.
	os.Remove(filepath.Join(f.dir, "ints", "b.der"))
	if !waitChange(t, ch) {
		t.Fatal("no notification after a file was removed")
	}
	if _, ok := list(t, tr)["Int B"]; ok {
		t.Error("the removed intermediate is still listed")
	}
}

func TestWatchDisabled(t *testing.T) {
	f := newFixture(t)
	f.cfg["poll_interval"] = "0s"
	tr, err := configure(t, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := tr.Watch(t.Context()); ch != nil || err != nil {
		t.Errorf("Watch with poll_interval 0s = %v, %v; want nil, nil", ch, err)
	}
}
