package cli

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

// ctConfig is a configuration whose default profile submits to logs.
func ctConfig(t *testing.T, required int, logs ...*ctlogtest.FakeLog) string {
	t.Helper()
	var b strings.Builder
	for i, l := range logs {
		b.WriteString(`      log "` + l.URL + `" {
        key      = "` + base64.StdEncoding.EncodeToString(l.KeyDER) + `"
        operator = "op` + string(rune('a'+i)) + `"
      }
`)
	}
	return devConfig(t, `
ca "issuing" {
  keystore    = keystore.dev
  key         = "issuing"
  certificate = "ca.pem"
  profile "default" {
    expiry = "2160h"
    usages = ["digital signature", "server auth"]
    ct {
      required_scts      = `+string(rune('0'+required))+`
      required_operators = 1
      timeout            = "2s"
      retries            = 0
`+b.String()+`    }
  }
}
`)
}

// ctIssued issues a certificate with an SCT embedded by log and returns
// the files of the leaf, the issuer and the chain (leaf then issuer).
func ctIssued(t *testing.T, log *ctlogtest.FakeLog) (leaf, issuer, chain string) {
	leaf, issuer, chain, _ = ctIssuedTLS(t, log)
	return leaf, issuer, chain
}

// ctIssuedTLS is ctIssued with the leaf's TLS certificate (chain and key).
func ctIssuedTLS(t *testing.T, log *ctlogtest.FakeLog) (leaf, issuer, chain string, tc tls.Certificate) {
	t.Helper()
	ctx := context.Background()
	req := &csr.Request{CN: "pkid CT CLI test CA", KeyRequest: csr.DefaultKeyRequest()}
	key, err := req.KeyRequest.Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(ctx, ca.InitCARequest{Request: req, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := profile.ParseCFSSL([]byte(`{"signing": {"default": {"expiry": "2160h", "usages": ["digital signature", "server auth"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	profiles.Default.CT = &config.CTPolicy{RequiredSCTs: 1, RequiredOperators: 1, Timeout: 2 * time.Second, Logs: []*config.CTLog{{URL: log.URL, KeyDER: log.KeyDER}}}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "t", Certificate: root.Cert, Signer: key, Profiles: profiles, SCTs: ct.NewSource(ct.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	lr := &csr.Request{CN: "ct.example", Hosts: []string{"ct.example"}, KeyRequest: csr.DefaultKeyRequest()}
	lk, _ := lr.KeyRequest.Generate()
	lcsr, _ := csr.Generate(lr, lk)
	c, err := iss.Sign(ctx, ca.SignRequest{CSR: lcsr})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	leaf = writeFile(t, dir, "leaf.pem", string(c.PEM()))
	issuer = writeFile(t, dir, "ca.pem", string(root.PEM()))
	chain = writeFile(t, dir, "chain.pem", string(c.PEM())+string(root.PEM()))
	return leaf, issuer, chain, tls.Certificate{Certificate: [][]byte{c.DER, root.DER}, PrivateKey: lk}
}

// TestCTSubmit: pkid ct submit sends a final certificate chain (add-chain)
// to the profile's logs and prints the verified SCTs; a rejecting log
// fails it with one line naming the log.
func TestCTSubmit(t *testing.T) {
	good := ctlogtest.NewFakeLog(ctlogtest.Honest)
	defer good.Close()
	bad := ctlogtest.NewFakeLog(ctlogtest.Reject)
	defer bad.Close()
	_, _, chain := ctIssued(t, good)

	r := pkid(t, "ct", "submit", "-cert", chain, "-config", ctConfig(t, 1, good, bad))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		SCTs []struct {
			Log string `json:"log_url"`
			SCT []byte `json:"sct"`
		} `json:"scts"`
		Results []struct {
			Log, Result string
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if len(out.SCTs) != 1 || out.SCTs[0].Log != good.URL || len(out.SCTs[0].SCT) == 0 {
		t.Errorf("scts: %s", r.stdout)
	}

	r = pkid(t, "ct", "submit", "-cert", chain, "-config", ctConfig(t, 2, good, bad))
	if r.code != 1 || !strings.HasPrefix(r.stderr, "pkid: ct: CT policy not met") || !strings.Contains(r.stderr, bad.URL+": HTTP 400") {
		t.Errorf("unmet policy: %+v", r)
	}
}

// TestCTSubmitBadInput: hostile or mistaken invocations are one-line
// errors with a non-zero exit.
func TestCTSubmitBadInput(t *testing.T) {
	good := ctlogtest.NewFakeLog(ctlogtest.Honest)
	defer good.Close()
	leaf, _, chain := ctIssued(t, good)
	dir := t.TempDir()
	noCT := devConfig(t, `
ca "issuing" {
  keystore    = keystore.dev
  key         = "issuing"
  certificate = "ca.pem"
}
`)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ct", "submit"}, 1, "-cert is required"},
		{[]string{"ct", "submit", "-cert", writeFile(t, dir, "junk.pem", "junk")}, 1, "not a PEM certificate chain"},
		{[]string{"ct", "submit", "-cert", writeFile(t, dir, "key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}, 1, `PEM block "PRIVATE KEY"`},
		{[]string{"ct", "submit", "-cert", leaf, "-config", ctConfig(t, 1, good)}, 1, "the issuer must follow"},
		{[]string{"ct", "submit", "-cert", chain, "-config", noCT}, 1, "has no ct block"},
		{[]string{"ct", "submit", "-cert", chain, "-config", noCT, "-label", "other"}, 1, `no ca "other"`},
		{[]string{"ct", "submit", "-cert", chain, "-config", ctConfig(t, 1, good), "-profile", "nope"}, 1, `no profile "nope"`},
	} {
		r := pkid(t, tc.args...)
		if r.code != tc.code || !strings.HasPrefix(r.stderr, "pkid: ") || !strings.Contains(strings.SplitN(r.stderr, "\n", 2)[0], tc.want) {
			t.Errorf("%v: want exit %d and a line naming %q; got %+v", tc.args[2:], tc.code, tc.want, r)
		}
	}
}

// TestCertinfoSCTs: certinfo reports each embedded SCT: verified with the
// issuer and the configured logs, unknown log or unverified otherwise,
// and an SCT that does not verify as invalid.
func TestCertinfoSCTs(t *testing.T) {
	log := ctlogtest.NewFakeLog(ctlogtest.Honest)
	defer log.Close()
	other := ctlogtest.NewFakeLog(ctlogtest.Honest)
	defer other.Close()
	leaf, issuer, _ := ctIssued(t, log)

	report := func(args ...string) []sctReport {
		t.Helper()
		r := pkid(t, append([]string{"certinfo", "-cert", leaf}, args...)...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var out struct {
			Subject json.RawMessage `json:"subject"`
			SCTs    []sctReport     `json:"scts"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Subject == nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		return out.SCTs
	}
	if s := report("-ca", issuer, "-config", ctConfig(t, 1, log)); len(s) != 1 || s[0].Result != "verified" || s[0].Log != log.URL {
		t.Errorf("with issuer and log: %+v", s)
	}
	if s := report("-ca", issuer, "-config", ctConfig(t, 1, other)); len(s) != 1 || !strings.Contains(s[0].Result, "unknown log") {
		t.Errorf("log not configured: %+v", s)
	}
	if s := report(); len(s) != 1 || !strings.Contains(s[0].Result, "-ca") {
		t.Errorf("no issuer: %+v", s)
	}
	// The wrong issuer: the SCT's signature covers the real issuer's key.
	_, wrongIssuer, _ := ctIssued(t, log)
	if s := report("-ca", wrongIssuer, "-config", ctConfig(t, 1, log)); len(s) != 1 || !strings.HasPrefix(s[0].Result, "invalid: SCT signature does not verify") {
		t.Errorf("wrong issuer: %+v", s)
	}
	// -domain: the issuer the server sends verifies the SCTs.
	_, _, _, tc := ctIssuedTLS(t, log)
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{tc}}
	srv.StartTLS()
	defer srv.Close()
	r := pkid(t, "certinfo", "-domain", strings.TrimPrefix(srv.URL, "https://"), "-config", ctConfig(t, 1, log))
	if r.code != 0 || !strings.Contains(r.stdout, `"result": "verified"`) || !strings.Contains(r.stdout, log.URL) {
		t.Errorf("-domain: %+v", r)
	}

	// A certificate without SCTs prints as before: no "scts".
	r = pkid(t, "certinfo", "-cert", issuer)
	if r.code != 0 || strings.Contains(r.stdout, "scts") {
		t.Errorf("no SCTs: %+v", r)
	}
}
