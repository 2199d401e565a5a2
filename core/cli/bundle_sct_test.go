package cli

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/internal/ctlogtest"
)

// sunlightCA is a root CA, written as CFSSL's ca.pem and ca-key.pem, and
// two real Sunlight logs that accept chains to it.
type sunlightCA struct {
	dir, caPEM, caKey string
	cert              *x509.Certificate
	key               crypto.Signer
	a, b              *ctlogtest.Log
}

func newSunlightCA(t *testing.T) *sunlightCA {
	t.Helper()
	s := &sunlightCA{dir: t.TempDir()}
	req := &csr.Request{CN: "pkid CT CLI test root", Names: []csr.Name{{C: "US", O: "pkid"}}, KeyRequest: &csr.KeyRequest{Algo: "ecdsa", Size: 256}}
	key, err := req.KeyRequest.Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(context.Background(), ca.InitCARequest{Request: req, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := csr.EncodePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	s.cert, s.key = root.Cert, key
	s.caPEM = writeFile(t, s.dir, "ca.pem", string(root.PEM()))
	s.caKey = writeFile(t, s.dir, "ca-key.pem", string(kp))
	s.a = ctlogtest.StartSunlight(t, ctlogtest.Config{Roots: []*x509.Certificate{root.Cert}, Name: "cli-a"})
	s.b = ctlogtest.StartSunlight(t, ctlogtest.Config{Roots: []*x509.Certificate{root.Cert}, Name: "cli-b"})
	t.Logf("Sunlight %s, sequencing period %s", ctlogtest.SunlightVersion, s.a.Period)
	return s
}

// issue signs a server certificate for name, with SCTs from every one of
// logs embedded (none: no CT).
func (s *sunlightCA) issue(t *testing.T, name string, logs ...*ctlogtest.Log) *ca.Certificate {
	t.Helper()
	profiles, err := profile.ParseCFSSL([]byte(`{"signing": {"default": {"expiry": "2160h", "usages": ["digital signature", "server auth"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) > 0 {
		pol := &config.CTPolicy{RequiredSCTs: len(logs), RequiredOperators: 1, Timeout: 10 * time.Second}
		for _, l := range logs {
			pol.Logs = append(pol.Logs, &config.CTLog{URL: l.URL, KeyDER: l.KeyDER, Operator: l.URL})
		}
		profiles.Default.CT = pol
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "t", Certificate: s.cert, Signer: s.key, Profiles: profiles, SCTs: ct.NewSource(ct.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	lr := &csr.Request{CN: name, Hosts: []string{name}, KeyRequest: csr.DefaultKeyRequest()}
	lk, _ := lr.KeyRequest.Generate()
	lcsr, _ := csr.Generate(lr, lk)
	c, err := iss.Sign(context.Background(), ca.SignRequest{CSR: lcsr})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logList writes a v3 log list of logs (each its own operator, usable).
func (s *sunlightCA) logList(t *testing.T, name string, logs ...*ctlogtest.Log) string {
	t.Helper()
	var ops []string
	for i, l := range logs {
		id := sha256.Sum256(l.KeyDER)
		ops = append(ops, fmt.Sprintf(`{"name": "op%d", "email": [], "logs": [{"description": "log %d", "log_id": %q, "key": %q, "url": %q, "mmd": 60, "state": {"usable": {"timestamp": "2026-01-01T00:00:00Z"}}}]}`,
			i, i, base64.StdEncoding.EncodeToString(id[:]), base64.StdEncoding.EncodeToString(l.KeyDER), l.URL+"/"))
	}
	return writeFile(t, s.dir, name, `{"version": "1.0", "log_list_timestamp": "2026-12-01T00:00:00Z", "operators": [`+strings.Join(ops, ",")+`]}`)
}

// forge re-signs c for another name, keeping its SCT list: the SCTs no
// longer cover what the certificate says.
func (s *sunlightCA) forge(t *testing.T, c *x509.Certificate, name string) string {
	t.Helper()
	var ext pkix.Extension
	for _, e := range c.Extensions {
		if e.Id.Equal(ca.OIDCTSCTList) {
			ext = e
		}
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, KeyUsage: c.KeyUsage, ExtKeyUsage: c.ExtKeyUsage, ExtraExtensions: []pkix.Extension{ext}},
		s.cert, &k.PublicKey, s.key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, s.dir, name+".pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
}

type bundleSCT struct {
	LogID     string `json:"log_id"`
	LogURL    string `json:"log_url"`
	Timestamp string `json:"timestamp"`
	Result    string `json:"result"`
}

// TestBundleCommandSCTs: pkid bundle -ct-log-list verifies the SCTs two
// real Sunlight logs issued and reports them in "scts" and the status:
// both verified; a forged certificate carrying them fails both; a log
// missing from the list is an unknown log; a certificate without SCTs
// gets no "scts". The other fields are CFSSL's: real cfssl bundle on the
// same files gives the same fields, "scts" aside. Hostile -ct-log-list
// inputs are one-line errors.
func TestBundleCommandSCTs(t *testing.T) {
	cfssl := oracle(t, "cfssl")
	s := newSunlightCA(t)
	withSCTs := s.issue(t, "sct.example.com", s.a, s.b)
	leaf := writeFile(t, s.dir, "leaf.pem", string(withSCTs.PEM()))
	plain := writeFile(t, s.dir, "plain.pem", string(s.issue(t, "plain.example.com").PEM()))
	both := s.logList(t, "both.json", s.a, s.b)
	onlyA := s.logList(t, "only-a.json", s.a)

	run := func(t *testing.T, cert, list string) (map[string]json.RawMessage, []bundleSCT, []string) {
		t.Helper()
		args := []string{"bundle", "-cert", cert, "-ca-bundle", s.caPEM, "-flavor", "optimal"}
		if list != "" {
			args = append(args, "-ct-log-list", list)
		}
		r := pkid(t, args...)
		if r.code != 0 {
			t.Fatalf("pkid %v: exit %d: %s", args, r.code, r.stderr)
		}
		m := decodeBundle(t, r.stdout)
		var scts []bundleSCT
		if raw, ok := m["scts"]; ok {
			if err := json.Unmarshal(raw, &scts); err != nil {
				t.Fatal(err)
			}
		}
		var st struct {
			Messages []string `json:"messages"`
		}
		json.Unmarshal(m["status"], &st)
		return m, scts, st.Messages
	}

	t.Run("valid", func(t *testing.T) {
		m, scts, msgs := run(t, leaf, both)
		if len(scts) != 2 {
			t.Fatalf("scts %+v", scts)
		}
		for _, r := range scts {
			if r.Result != "verified" || (r.LogURL != s.a.URL && r.LogURL != s.b.URL) || len(r.LogID) != 64 || r.Timestamp == "" {
				t.Errorf("sct %+v", r)
			}
		}
		for _, msg := range msgs {
			if strings.Contains(msg, "SCT") {
				t.Errorf("message %q", msg)
			}
		}
		// CFSSL's fields are CFSSL's: real cfssl on the same files.
		out, err := cfsslOutput(cfssl, "bundle", "-cert", leaf, "-ca-bundle", s.caPEM, "-flavor", "optimal")
		if err != nil {
			t.Fatalf("cfssl bundle: %v", err)
		}
		want := decodeBundle(t, string(out))
		for k, w := range want {
			if k == "status" || k == "hostnames" {
				continue // compared by TestBundleCommandOracle (ordering, advisories)
			}
			if string(m[k]) != string(w) {
				t.Errorf("%s = %s, CFSSL %s", k, m[k], w)
			}
		}
		if len(m) != len(want)+1 {
			t.Errorf("pkid has %d fields, CFSSL %d plus scts", len(m), len(want))
		}
	})

	t.Run("tampered", func(t *testing.T) {
		_, scts, msgs := run(t, s.forge(t, withSCTs.Cert, "evil.example.com"), both)
		if len(scts) != 2 {
			t.Fatalf("scts %+v", scts)
		}
		for _, r := range scts {
			if !strings.HasPrefix(r.Result, "invalid: SCT signature does not verify") {
				t.Errorf("sct %+v", r)
			}
		}
		if n := countContaining(msgs, "is invalid: SCT signature does not verify"); n != 2 {
			t.Errorf("messages %q", msgs)
		}
	})

	t.Run("unknown log", func(t *testing.T) {
		_, scts, msgs := run(t, leaf, onlyA)
		got := map[string]int{}
		for _, r := range scts {
			got[r.Result]++
		}
		if got["verified"] != 1 || got["unknown log"] != 1 {
			t.Errorf("scts %+v", scts)
		}
		if countContaining(msgs, "an SCT from a log not in the CT log list") != 1 {
			t.Errorf("messages %q", msgs)
		}
	})

	t.Run("no SCTs", func(t *testing.T) {
		m, _, msgs := run(t, plain, both)
		if _, ok := m["scts"]; ok || countContaining(msgs, "SCT") != 0 {
			t.Errorf("scts %s, messages %q", m["scts"], msgs)
		}
	})

	t.Run("without a log list", func(t *testing.T) {
		m, _, msgs := run(t, leaf, "")
		if _, ok := m["scts"]; ok || countContaining(msgs, "SCT") != 0 {
			t.Errorf("scts %s, messages %q", m["scts"], msgs)
		}
	})

	t.Run("hostile", func(t *testing.T) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		kder, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		signer := writeFile(t, s.dir, "signer.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: kder})))
		garbage := writeFile(t, s.dir, "garbage.json", `{"operators": [{"logs": [{"key": "AAAA", "log_id": "AAAA", "url": "x"`)
		big := writeFile(t, s.dir, "big.json", strings.Repeat(" ", ct.MaxLogListBytes+1))
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"-ct-log-list", filepath.Join(s.dir, "missing.json")}, "missing.json"},
			{[]string{"-ct-log-list", garbage}, "-ct-log-list " + garbage},
			{[]string{"-ct-log-list", big}, "larger than"},
			{[]string{"-ct-log-list", both, "-ct-log-list-key", signer}, "signature"},
			{[]string{"-ct-log-list", both, "-ct-log-list-key", s.caKey}, "-ct-log-list-key"},
			{[]string{"-ct-log-list-key", signer}, "-ct-log-list-key goes with -ct-log-list"},
			{[]string{"-ct-log-list", "ftp://example.com/list.json"}, "ftp://example.com/list.json"},
		} {
			r := pkid(t, append([]string{"bundle", "-cert", leaf, "-ca-bundle", s.caPEM}, tc.args...)...)
			if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("bundle %v: exit %d, stdout %q, stderr %q; want a one-line error with %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
			}
		}
	})
}

func countContaining(msgs []string, sub string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// cfsslOutput runs a CFSSL oracle, bounded, and returns its stdout.
func cfsslOutput(bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
