package bundle

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
)

// CFSSL's 2016-era ubiquity messages that pkid does not send (its
// SHA-2/ECDSA penalty is a deliberate difference, docs/bundler.md).
const (
	cfsslSHA2Warning  = "The bundle contains certificates signed with advanced hash functions such as SHA2, which are problematic for certain operating systems, e.g. Windows XP SP2."
	cfsslECDSAWarning = "The bundle contains ECDSA signatures, which are problematic for certain operating systems, e.g. Windows XP, Android 2.2 and Android 2.3."
)

func writePEM(t testing.TB, path string, certs ...*x509.Certificate) {
	t.Helper()
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// cfsslInputs are the files both bundlers read.
type cfsslInputs struct {
	dir                string
	roots, inters      []*x509.Certificate
	platforms          []cfsslPlatform
	rootsFile, intFile string
	metaFile           string
	trustCerts         []sdk.TrustCert
	sdkPlatforms       []sdk.Platform
}

type cfsslPlatform struct {
	name   string
	weight int
	roots  []*x509.Certificate
}

func newCFSSLInputs(t testing.TB, roots, inters []*x509.Certificate, platforms []cfsslPlatform) *cfsslInputs {
	t.Helper()
	in := &cfsslInputs{dir: t.TempDir(), roots: roots, inters: inters, platforms: platforms}
	in.rootsFile = filepath.Join(in.dir, "ca-bundle.pem")
	in.intFile = filepath.Join(in.dir, "int-bundle.pem")
	writePEM(t, in.rootsFile, roots...)
	writePEM(t, in.intFile, inters...)
	for _, r := range roots {
		in.trustCerts = append(in.trustCerts, sdk.TrustCert{DER: r.Raw, Root: true, Source: in.rootsFile})
	}
	for _, c := range inters {
		in.trustCerts = append(in.trustCerts, sdk.TrustCert{DER: c.Raw, Source: in.intFile})
	}
	var meta []map[string]any
	for i, p := range platforms {
		ks := fmt.Sprintf("store%d.pem", i)
		writePEM(t, filepath.Join(in.dir, ks), p.roots...)
		meta = append(meta, map[string]any{"name": p.name, "weight": p.weight, "hash_algo": "SHA2", "key_algo": "ECDSA256", "keystore": ks})
		sp := sdk.Platform{Name: p.name, Weight: p.weight, HashAlgo: "SHA2", KeyAlgo: "ECDSA256"}
		for _, r := range p.roots {
			sp.Roots = append(sp.Roots, spkiSHA1(r))
		}
		in.sdkPlatforms = append(in.sdkPlatforms, sp)
	}
	if len(platforms) > 0 {
		js, _ := json.Marshal(meta)
		in.metaFile = filepath.Join(in.dir, "metadata.json")
		if err := os.WriteFile(in.metaFile, js, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// cfsslBundle runs the real `cfssl bundle` on the inputs.
func cfsslBundle(t testing.TB, cfssl string, in *cfsslInputs, certFile, keyFile string, flavor Flavor) []byte {
	t.Helper()
	args := []string{"bundle", "-cert", certFile, "-ca-bundle", in.rootsFile, "-int-bundle", in.intFile, "-flavor", string(flavor)}
	if keyFile != "" {
		args = append(args, "-key", keyFile)
	}
	if in.metaFile != "" {
		args = append(args, "-metadata", in.metaFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfssl, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cfssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestCFSSLOutput compares the bundle object with real CFSSL 1.6.5's on
// the same files: every field byte for byte, except those the spec makes
// different (hostnames order, the SHA-2/ECDSA ubiquity penalty).
func TestCFSSLOutput(t *testing.T) {
	cfssl := testtool.Oracle(t, "cfssl")
	p := newCrossPKI(t)
	// A leaf with OCSP and CRL URLs straight under the old root (its
	// root stays in the bundle), and one under an intermediate that
	// expires in ten days (status bit 1).
	ocspLeaf := issue(t, certSpec{cn: "ocsp.example.com", org: "Example & Sons <Ltd>", dns: []string{"ocsp.example.com", "alt.example.com"},
		ocsp: []string{"http://ocsp.example.com"}, crl: []string{"http://crl.example.com/ca.crl"}}, p.oldRoot)
	shortInter := issue(t, certSpec{cn: "Short CA", org: "Test Trust", ca: true, notAfter: time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)}, p.oldRoot)
	shortLeaf := issue(t, certSpec{cn: "short.example.com", dns: []string{"short.example.com"}, ocsp: []string{"http://ocsp.example.com"}}, shortInter)
	rsaLeaf := issue(t, certSpec{cn: "rsa.example.com", dns: []string{"rsa.example.com"}, key: rsaKey(t, 2048)}, p.inter)

	in := newCFSSLInputs(t, []*x509.Certificate{p.oldRoot.cert, p.newRoot.cert}, []*x509.Certificate{p.cross.cert, p.inter.cert, shortInter.cert},
		[]cfsslPlatform{{"everywhere", 10, []*x509.Certificate{p.oldRoot.cert, p.newRoot.cert}}, {"legacy", 5, []*x509.Certificate{p.oldRoot.cert}}})
	pool, err := NewPool(in.trustCerts, in.sdkPlatforms)
	if err != nil {
		t.Fatal(err)
	}
	b := &Bundler{Pool: pool}

	cases := []struct {
		name    string
		chain   []*x509.Certificate
		key     *node
		flavor  Flavor
		notUbiq bool // pkid's status bit 2 (docs/differences-from-cfssl.md, "Bundle scoring without 2016 penalties")
	}{
		{"ubiquitous with key", []*x509.Certificate{p.leaf.cert}, p.leaf, Ubiquitous, false},
		{"optimal", []*x509.Certificate{p.leaf.cert}, nil, Optimal, true},
		{"ocsp leaf keeps root", []*x509.Certificate{ocspLeaf.cert}, nil, Ubiquitous, false},
		{"expiring intermediate", []*x509.Certificate{shortLeaf.cert, shortInter.cert}, nil, Optimal, false},
		{"rsa leaf", []*x509.Certificate{rsaLeaf.cert, p.inter.cert}, rsaLeaf, Optimal, true},
		{"force reversed", []*x509.Certificate{p.oldRoot.cert, p.cross.cert, p.inter.cert, p.leaf.cert}, nil, Force, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			certFile := filepath.Join(in.dir, fmt.Sprintf("cert%d.pem", i))
			writePEM(t, certFile, tc.chain...)
			keyFile := ""
			req := Request{Chain: tc.chain, Flavor: tc.flavor}
			if tc.key != nil {
				keyFile = filepath.Join(in.dir, fmt.Sprintf("key%d.pem", i))
				der, err := x509.MarshalPKCS8PrivateKey(tc.key.key)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
					t.Fatal(err)
				}
				req.Key = tc.key.key
			}
			want := cfsslBundle(t, cfssl, in, certFile, keyFile, tc.flavor)
			bun, err := b.Bundle(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(bun)
			if err != nil {
				t.Fatal(err)
			}
			compareBundleJSON(t, got, want, tc.notUbiq)
		})
	}
}

func compareBundleJSON(t *testing.T, got, want []byte, notUbiq bool) {
	t.Helper()
	var g, w map[string]json.RawMessage
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("cfssl output: %v\n%s", err, want)
	}
	if gk, wk := keysOf(g), keysOf(w); !reflect.DeepEqual(gk, wk) {
		t.Fatalf("keys %v, cfssl %v", gk, wk)
	}
	// Same key order: alphabetical on both sides.
	if !bytes.HasPrefix(got, []byte(`{"bundle":`)) || !bytes.HasPrefix(want, []byte(`{"bundle":`)) {
		t.Errorf("objects do not start with bundle: %.20s / %.20s", got, want)
	}
	for k := range w {
		switch k {
		case "hostnames": // CFSSL's order is random (docs/differences-from-cfssl.md, "Bundle hostnames in order")
			var gh, wh []string
			_ = json.Unmarshal(g[k], &gh)
			_ = json.Unmarshal(w[k], &wh)
			slices.Sort(gh)
			slices.Sort(wh)
			if !reflect.DeepEqual(gh, wh) {
				t.Errorf("hostnames %v, cfssl %v", gh, wh)
			}
		case "status":
			compareStatus(t, g[k], w[k], notUbiq)
		default:
			if !bytes.Equal(g[k], w[k]) {
				t.Errorf("%s:\n pkid  %s\n cfssl %s", k, g[k], w[k])
			}
		}
	}
}

func compareStatus(t *testing.T, got, want json.RawMessage, notUbiq bool) {
	t.Helper()
	var g, w Status
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if g.Rebundled != w.Rebundled || !reflect.DeepEqual(g.ExpiringSKIs, w.ExpiringSKIs) || !reflect.DeepEqual(g.Untrusted, w.Untrusted) {
		t.Errorf("status:\n pkid  %s\n cfssl %s", got, want)
	}
	if g.Code&BitExpiring != w.Code&BitExpiring {
		t.Errorf("expiring bit: pkid %d, cfssl %d", g.Code, w.Code)
	}
	if (g.Code&BitNotUbiquitous != 0) != notUbiq {
		t.Errorf("pkid not-ubiquitous bit = %d, want %v", g.Code, notUbiq)
	}
	var wm []string
	for _, m := range w.Messages {
		if m != cfsslSHA2Warning && m != cfsslECDSAWarning {
			wm = append(wm, m)
		}
	}
	if !reflect.DeepEqual(g.Messages, wm) {
		t.Errorf("messages:\n pkid  %q\n cfssl %q (less the SHA-2/ECDSA warnings)", g.Messages, w.Messages)
	}
	// Key order inside status is CFSSL's struct order.
	order := []string{`"rebundled"`, `"expiring_SKIs"`, `"untrusted_root_stores"`, `"messages"`, `"code"`}
	last := -1
	for _, k := range order {
		i := bytes.Index(got, []byte(k))
		if i < last {
			t.Errorf("status key %s out of CFSSL's order: %s", k, got)
		}
		last = i
	}
}

func keysOf(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestCFSSLErrors: the same refusals give the same codes as real CFSSL
// (and its fixed texts where CFSSL has one).
func TestCFSSLErrors(t *testing.T) {
	cfssl := testtool.Oracle(t, "cfssl")
	p := newCrossPKI(t)
	selfCA := issue(t, certSpec{cn: "Self CA", ca: true}, nil)
	stranger := issue(t, certSpec{cn: "Stranger CA", ca: true}, nil)
	orphan := issue(t, certSpec{cn: "orphan.example.com"}, stranger)
	expired := issue(t, certSpec{cn: "Lapsed CA", ca: true, notBefore: time.Now().Add(-72 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)}, p.oldRoot)
	underExpired := issue(t, certSpec{cn: "lapsed.example.com", notBefore: time.Now().Add(-48 * time.Hour)}, expired)

	in := newCFSSLInputs(t, []*x509.Certificate{p.oldRoot.cert, p.newRoot.cert}, []*x509.Certificate{p.inter.cert, expired.cert}, nil)
	pool, err := NewPool(in.trustCerts, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &Bundler{Pool: pool}
	cases := []struct {
		name     string
		chain    []*x509.Certificate
		key      *node
		flavor   Flavor
		code     int
		sameText bool
	}{
		{"key mismatch", []*x509.Certificate{p.leaf.cert}, p.inter, Ubiquitous, CodeKeyMismatch, true},
		{"self-signed CA", []*x509.Certificate{selfCA.cert}, nil, Ubiquitous, CodeSelfSigned, true},
		{"unknown authority", []*x509.Certificate{orphan.cert}, nil, Optimal, CodeUnknownAuthority, false},
		{"expired intermediate", []*x509.Certificate{underExpired.cert}, nil, Ubiquitous, CodeCertInvalid + int(x509.Expired), false},
		{"force, not a chain", []*x509.Certificate{p.leaf.cert, p.oldRoot.cert}, nil, Force, CodeVerifyFailed, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			certFile := filepath.Join(in.dir, fmt.Sprintf("err%d.pem", i))
			writePEM(t, certFile, tc.chain...)
			args := []string{"bundle", "-cert", certFile, "-ca-bundle", in.rootsFile, "-int-bundle", in.intFile, "-flavor", string(tc.flavor)}
			req := Request{Chain: tc.chain, Flavor: tc.flavor}
			if tc.key != nil {
				keyFile := filepath.Join(in.dir, fmt.Sprintf("errkey%d.pem", i))
				der, _ := x509.MarshalPKCS8PrivateKey(tc.key.key)
				_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
				args = append(args, "-key", keyFile)
				req.Key = tc.key.key
			}
			var stderr bytes.Buffer
			cmd := exec.Command(cfssl, args...)
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil {
				t.Fatalf("cfssl accepted the input")
			}
			var want struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			for _, line := range strings.Split(stderr.String(), "\n") {
				if strings.HasPrefix(line, "{") {
					_ = json.Unmarshal([]byte(line), &want)
				}
			}
			_, err := b.Bundle(context.Background(), req)
			var be *Error
			if !errors.As(err, &be) {
				t.Fatalf("pkid: %v", err)
			}
			if want.Code != tc.code || be.Code != tc.code {
				t.Errorf("codes: pkid %d, cfssl %d, want %d (cfssl said %q)", be.Code, want.Code, tc.code, stderr.String())
			}
			if tc.sameText && be.Msg != want.Message {
				t.Errorf("message: pkid %q, cfssl %q", be.Msg, want.Message)
			}
		})
	}
}
