package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca/csr"
)

// startPlan leaves nothing secret behind: the directory is private, the
// passphrase file is gone once the keystore runs, and Close removes the
// directory (imported keys included).
func TestStartPlanEphemeral(t *testing.T) {
	dir := t.TempDir()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "ca-key.pem")
	os.WriteFile(keyFile, []byte(keyPEM), 0o600)
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	plan := &compatPlan{CAs: []*compatCA{{Label: "a", KeyID: "ca", Key: keyFile, Certificate: filepath.Join(dir, "ca.pem")}}}
	run, err := startPlan(e, plan, readPrivateKeyPEM(e))
	if err != nil {
		t.Fatalf("%v\n%s", err, e.stderr)
	}
	fi, err := os.Stat(run.dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("ephemeral dir %v %v", fi, err)
	}
	if _, err := os.Stat(plan.PassphraseFile); !os.IsNotExist(err) {
		t.Errorf("passphrase file still there after start: %v", err)
	}
	keys, err := run.s.KeyStores["cfssl"].ListKeys(t.Context())
	if err != nil || len(keys) != 1 || keys[0].ID != "ca" {
		t.Errorf("keys %v %v", keys, err)
	}
	entries, _ := os.ReadDir(plan.KeyDir)
	for _, en := range entries {
		data, _ := os.ReadFile(filepath.Join(plan.KeyDir, en.Name()))
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a plaintext key", en.Name())
		}
	}
	if strings.Contains(e.stderr.(*bytes.Buffer).String(), "kdf_work_factor") {
		t.Errorf("work factor warning shown: %s", e.stderr)
	}
	run.Close()
	if _, err := os.Stat(run.dir); !os.IsNotExist(err) {
		t.Errorf("ephemeral dir left behind: %v", err)
	}
	// A bad key fails before anything is created.
	before, _ := filepath.Glob(filepath.Join(filepath.Dir(run.dir), "pkid-cfssl-*"))
	os.WriteFile(keyFile, []byte("garbage"), 0o600)
	if _, err := startPlan(e, plan, readPrivateKeyPEM(e)); err == nil || !strings.Contains(err.Error(), "CA key") {
		t.Errorf("bad key: %v", err)
	}
	after, _ := filepath.Glob(filepath.Join(filepath.Dir(run.dir), "pkid-cfssl-*"))
	if len(after) != len(before) {
		t.Errorf("a failed start left %v", after)
	}
}

// make install links exactly the names pkid answers to.
func TestMakefileInstallNames(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CFSSL_NAMES := (.*)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("no CFSSL_NAMES in the Makefile")
	}
	got := strings.Fields(string(m[1]))
	slices.Sort(got)
	if !slices.Equal(got, DropInNames()) {
		t.Errorf("Makefile links %v, pkid answers to %v", got, DropInNames())
	}
}

func TestIsCFSSLServe(t *testing.T) {
	dir := t.TempDir()
	js := filepath.Join(dir, "c.json")
	os.WriteFile(js, []byte(`{"signing":{}}`), 0o644)
	hcl := filepath.Join(dir, "c.hcl")
	os.WriteFile(hcl, []byte(`ca "a" {}`), 0o644)
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"-config", hcl}, false},
		{[]string{"-config", hcl, "-listen", ":0"}, false},
		{[]string{"-dev"}, false},
		{[]string{"-config", js}, true},
		{[]string{"-config=" + js}, true},
		{[]string{"--ca-key=k", "-ca", "c"}, true},
		{[]string{"-port", "1"}, true},
		{[]string{"-config", hcl, "stray", "-ca", "x"}, false},     // flags end at the first argument
		{[]string{"-config", hcl, "-db-config", "db.json"}, false}, // pkid serve explains
		{[]string{"-listen", "x", "-ca", "c", "-ca-key", "k"}, true},
		{[]string{"-dev", "-port", "1"}, true},
	} {
		if got := isCFSSLServe(tc.args); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.args, got, tc.want)
		}
	}
}

// The multirootca front bounds bodies and matches nets on IPv4 clients
// that arrive as IPv4-mapped IPv6.
func TestMultirootHostile(t *testing.T) {
	m, err := newMultiroot(&compatPlan{CAs: []*compatCA{{Label: "p", Nets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}}, "p")
	if err != nil {
		t.Fatal(err)
	}
	m.inner = http.NotFoundHandler()
	big := bytes.Repeat([]byte("x"), maxMultirootBody+1)
	for _, path := range []string{"authsign", "info"} {
		rec := httptest.NewRecorder()
		h := map[string]http.HandlerFunc{"authsign": m.authsign, "info": m.info}[path]
		h(rec, httptest.NewRequest(http.MethodPost, "/api/v1/cfssl/"+path, bytes.NewReader(big)))
		var env struct {
			Success bool
			Errors  []struct {
				Code    int
				Message string
			}
		}
		if rec.Code != http.StatusRequestEntityTooLarge || json.Unmarshal(rec.Body.Bytes(), &env) != nil || env.Success || len(env.Errors) != 1 || env.Errors[0].Code != 413 {
			t.Errorf("%s: oversized body: %d %s", path, rec.Code, rec.Body)
		}
	}
	for _, tc := range []struct {
		remote string
		want   bool
	}{
		{"127.0.0.1:5", true}, {"[::ffff:127.0.0.1]:5", true}, {"10.0.0.1:5", false}, {"[::1]:5", false}, {"garbage", false}, {"[zz]:1", false},
	} {
		if got := permitted(m.labels["p"].nets, tc.remote); got != tc.want {
			t.Errorf("permitted(%s) = %v", tc.remote, got)
		}
	}
}

// -mutual-tls-cn applies to forwarded requests too, anchored.
func TestClientCNCheck(t *testing.T) {
	check, err := clientCNCheck("client.*")
	if err != nil {
		t.Fatal(err)
	}
	req := func(cn string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/cfssl/sign", nil)
		if cn != "" {
			r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: cn}}}}}
		}
		return r
	}
	for cn, ok := range map[string]bool{"client1": true, "client": true, "evil-client1": false, "": false} {
		if err := check(req(cn)); (err == nil) != ok {
			t.Errorf("CN %q: %v", cn, err)
		}
	}
	if _, err := clientCNCheck("("); err == nil {
		t.Error("a bad pattern is accepted")
	}
}
