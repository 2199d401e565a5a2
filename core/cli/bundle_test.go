package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// bundleFiles is a root, an intermediate and a leaf with its key, written
// as CFSSL's bundle takes them.
type bundleFiles struct {
	dir, roots, inters, leaf, key, meta string
	leafCert, interCert                 *x509.Certificate
	leafKey, interKey                   *ecdsa.PrivateKey
}

func newBundleFiles(t *testing.T) *bundleFiles {
	t.Helper()
	f := &bundleFiles{dir: t.TempDir()}
	now := time.Now().Truncate(time.Second)
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ik, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.interKey = ik
	f.leafKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mk := func(tmpl, parent *x509.Certificate, pub any, key *ecdsa.PrivateKey) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	caT := func(cn string, n int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: cn, Organization: []string{"pkid bundle test"}},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	rt := caT("Bundle Test Root", 1)
	root := mk(rt, rt, &rk.PublicKey, rk)
	f.interCert = mk(caT("Bundle Test Intermediate", 2), root, &ik.PublicKey, rk)
	f.leafCert = mk(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "www.example.com", Organization: []string{"Example"}, Country: []string{"US"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), DNSNames: []string{"www.example.com"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, f.interCert, &f.leafKey.PublicKey, ik)
	w := func(name string, b []byte) string { return writeFile(t, f.dir, name, string(b)) }
	p := func(cs ...*x509.Certificate) []byte {
		var out []byte
		for _, c := range cs {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		return out
	}
	f.roots, f.inters, f.leaf = w("ca-bundle.pem", p(root)), w("int-bundle.pem", p(f.interCert)), w("leaf.pem", p(f.leafCert))
	kder, _ := x509.MarshalECPrivateKey(f.leafKey)
	f.key = w("leaf-key.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	w("store.pem", p(root))
	f.meta = w("ca-bundle.crt.metadata", []byte(`[{"name":"modern","weight":10,"hash_algo":"SHA2","key_algo":"ECDSA256","keystore":"store.pem"},
		{"name":"empty","weight":1,"hash_algo":"SHA1","key_algo":"RSA","keystore":"other.pem"}]`))
	w("other.pem", p(f.interCert)) // a store lacking our root
	return f
}

func decodeBundle(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not a bundle object: %v\n%s", err, s)
	}
	return m
}

// TestBundleCommandOracle runs pkid bundle and real CFSSL's on the same
// files: the fields match (hostnames as a set; docs/bundler.md lists the
// deliberate differences).
func TestBundleCommandOracle(t *testing.T) {
	cfssl := oracle(t, "cfssl")
	f := newBundleFiles(t)
	args := []string{"-cert", f.leaf, "-key", f.key, "-ca-bundle", f.roots, "-int-bundle", f.inters, "-metadata", f.meta}
	r := pkid(t, append([]string{"bundle"}, args...)...)
	if r.code != 0 || !strings.HasSuffix(r.stdout, "}\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("pkid bundle: %d %q %s", r.code, r.stdout, r.stderr)
	}
	out, err := exec.Command(cfssl, append([]string{"bundle"}, args...)...).Output()
	if err != nil {
		t.Fatalf("cfssl bundle: %v", err)
	}
	got, want := decodeBundle(t, r.stdout), decodeBundle(t, string(out))
	if len(got) != len(want) {
		t.Errorf("pkid has %d fields, CFSSL %d", len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		switch k {
		case "hostnames":
			var gs, ws []string
			json.Unmarshal(g, &gs)
			json.Unmarshal(w, &ws)
			if strings.Join(sortedCopy(gs), ",") != strings.Join(sortedCopy(ws), ",") {
				t.Errorf("hostnames %s, CFSSL %s", g, w)
			}
		case "status":
			// pkid does not warn about SHA-2 and ECDSA (docs/bundler.md):
			// CFSSL's two advisories aside, the status is the same.
			var ws map[string]any
			json.Unmarshal(w, &ws)
			var kept []any
			for _, m := range ws["messages"].([]any) {
				if !strings.Contains(m.(string), "problematic for certain operating systems") {
					kept = append(kept, m)
				}
			}
			ws["messages"] = kept
			var gs map[string]any
			json.Unmarshal(g, &gs)
			gj, _ := json.Marshal(gs)
			wj, _ := json.Marshal(ws)
			if string(gj) != string(wj) {
				t.Errorf("status = %s\n CFSSL %s", gj, wj)
			}
		default:
			if string(g) != string(w) {
				t.Errorf("%s = %s\n CFSSL %s", k, g, w)
			}
		}
	}
	var st struct {
		Untrusted []string `json:"untrusted_root_stores"`
	}
	json.Unmarshal(got["status"], &st)
	if strings.Join(st.Untrusted, ",") != "empty" {
		t.Errorf("untrusted_root_stores %v, want [empty] (from the metadata)", st.Untrusted)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestBundleCommandDomain(t *testing.T) {
	f := newBundleFiles(t)
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{f.leafCert.Raw, f.interCert.Raw}, PrivateKey: f.leafKey}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "https://"))

	// The CLI dials what it is given, loopback included; the name is
	// checked against the leaf.
	r := pkid(t, "bundle", "-domain", "127.0.0.1:"+port, "-ca-bundle", f.roots, "-flavor", "optimal")
	if r.code != 0 {
		t.Fatalf("bundle -domain: %d %s", r.code, r.stderr)
	}
	b := decodeBundle(t, r.stdout)
	var crt string
	json.Unmarshal(b["crt"], &crt)
	if crt != strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.leafCert.Raw}))) {
		t.Errorf("crt %s is not the server's leaf", crt)
	}
	// -ip dials the address and presents -domain, which must match.
	if r := pkid(t, "bundle", "-domain", "www.example.com:"+port, "-ip", "127.0.0.1", "-ca-bundle", f.roots); r.code != 0 {
		t.Errorf("bundle -domain -ip: %d %s", r.code, r.stderr)
	}
	if r := pkid(t, "bundle", "-domain", "other.example.com:"+port, "-ip", "127.0.0.1", "-ca-bundle", f.roots); r.code == 0 {
		t.Errorf("bundle for a name the leaf lacks succeeded: %s", r.stdout)
	}
}

func TestBundleCommandBadInput(t *testing.T) {
	f := newBundleFiles(t)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kder, _ := x509.MarshalECPrivateKey(otherKey)
	wrongKey := writeFile(t, f.dir, "wrong-key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	garbage := writeFile(t, f.dir, "garbage.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	badMeta := writeFile(t, f.dir, "bad.metadata", `[{"name":"x","weight":1,"hash_algo":"MD5","key_algo":"RSA"}]`)
	base := []string{"-ca-bundle", f.roots, "-int-bundle", f.inters}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, 1, "give -cert or -domain"},
		{[]string{"-cert", f.leaf, "-ip", "nope"}, 1, `-ip "nope" is not an IP address`},
		{[]string{"-cert", filepath.Join(f.dir, "missing.pem")}, 1, "no such file"},
		{[]string{"-cert", garbage}, 1, "(code 1003)"},
		{[]string{"-cert", f.key}, 1, "(code 1002)"},
		{[]string{"-cert", f.leaf, "-key", wrongKey}, 1, "(code 2300)"},
		{[]string{"-cert", f.leaf, "-key", garbage}, 1, "-key " + garbage},
		{[]string{"-cert", f.leaf, "-domain", "evil.example"}, 1, "(code 12"},
		{[]string{"-cert", f.leaf, "-metadata", badMeta}, 1, `unknown hash_algo "MD5"`},
		{[]string{"-cert", f.leaf, "-ca-bundle", garbage}, 1, garbage},
		{[]string{"-domain", "127.0.0.1:1", "-ca-bundle", f.roots}, 1, "127.0.0.1:1"},
	} {
		args := append([]string{"bundle"}, base...)
		r := pkid(t, append(args, tt.args...)...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("bundle %v: exit %d, stderr %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.want)
		}
		if tt.code == 1 && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("bundle %v: error is not one line: %q", tt.args, r.stderr)
		}
	}
}

// TestBundleCommandAIA: the intermediate is missing from the files and
// served at the leaf's AIA URL (loopback: the CLI dials what it is given);
// pkid fetches it, bundles, and stashes it in -int-dir under the same
// name real CFSSL uses.
func TestBundleCommandAIA(t *testing.T) {
	f := newBundleFiles(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(f.interCert.Raw)
	}))
	t.Cleanup(srv.Close)
	// Re-issue the leaf with an AIA URL pointing at the server.
	leaf := reissueWithAIA(t, f, srv.URL+"/int.crt")
	leafFile := writeFile(t, f.dir, "aia-leaf.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})))

	pkidStash := filepath.Join(f.dir, "pkid-int")
	r := pkid(t, "bundle", "-cert", leafFile, "-ca-bundle", f.roots, "-int-dir", pkidStash, "-flavor", "optimal")
	if r.code != 0 {
		t.Fatalf("bundle with AIA: %d %s", r.code, r.stderr)
	}
	var b struct {
		Bundle string `json:"bundle"`
	}
	json.Unmarshal([]byte(r.stdout), &b)
	if strings.Count(b.Bundle, "BEGIN CERTIFICATE") != 2 || hits.Load() == 0 {
		t.Fatalf("bundle %q after %d AIA fetches; want leaf and the fetched intermediate", b.Bundle, hits.Load())
	}
	got := dirNames(t, pkidStash)
	if len(got) != 1 {
		t.Fatalf("stash holds %v, want the intermediate", got)
	}

	cfssl := oracleIfPresent(t, "cfssl")
	if cfssl == "" {
		return
	}
	cfsslStash := filepath.Join(f.dir, "cfssl-int")
	if out, err := exec.Command(cfssl, "bundle", "-cert", leafFile, "-ca-bundle", f.roots, "-int-dir", cfsslStash, "-flavor", "optimal").CombinedOutput(); err != nil {
		t.Fatalf("cfssl bundle: %v\n%s", err, out)
	}
	if want := dirNames(t, cfsslStash); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("stashed as %v, CFSSL %v", got, want)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// reissueWithAIA signs a copy of the fixture's leaf (same key, by the
// same intermediate) naming aiaURL as its issuer's location.
func reissueWithAIA(t *testing.T, f *bundleFiles, aiaURL string) *x509.Certificate {
	t.Helper()
	tmpl := *f.leafCert
	tmpl.IssuingCertificateURL = []string{aiaURL}
	tmpl.SerialNumber = big.NewInt(4)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, f.interCert, &f.leafKey.PublicKey, f.interKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
