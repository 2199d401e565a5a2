package cli

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ecLeafJSON is a quick-to-generate leaf request.
const ecLeafJSON = `{"CN": "leaf.example.com", "hosts": ["leaf.example.com"], "key": {"algo": "ecdsa", "size": 256}}`

// revocationSetup inits both CAs of configuredCA and issues n certificates
// from "issuing" (profile server) and m from "legacy" (profile pss).
func revocationSetup(t *testing.T, n, m int) (cfg, dir string, issuing, legacy []*x509.Certificate) {
	t.Helper()
	cfg, dir = configuredCA(t)
	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "issuing", "-cn", "pkid revocation test CA"); r.code != 0 {
		t.Fatalf("ca init: %+v", r)
	}
	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "legacy", "-algorithm", "rsa-2048", "-cn", "legacy"); r.code != 0 {
		t.Fatalf("ca init: %+v", r)
	}
	leaf := writeFile(t, dir, "leaf.json", ecLeafJSON)
	issue := func(label, prof string) *x509.Certificate {
		m := decodeResult(t, pkid(t, "gencert", "-config", cfg, "-label", label, "-profile", prof, leaf))
		return mustParsePEM(t, m["cert"])
	}
	for range n {
		issuing = append(issuing, issue("issuing", "server"))
	}
	for range m {
		legacy = append(legacy, issue("legacy", "pss"))
	}
	return cfg, dir, issuing, legacy
}

func mustParsePEM(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		t.Fatalf("no PEM in %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantFail checks a non-zero exit with one stderr line containing want.
func wantFail(t *testing.T, r result, want string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(r.stderr, "\n") {
		// pkid's lines and CFSSL's JSON error lines (sign, ocspsign), not
		// the config's test-key warning.
		if strings.HasPrefix(l, "pkid: ") || strings.HasPrefix(l, `{"code":`) {
			lines = append(lines, l)
		}
	}
	if r.code == 0 || len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("want a one-line failure with %q, got %+v", want, r)
	}
}

func TestRevokeRemote(t *testing.T) {
	var gotPath string
	var gotBody map[string]string
	fail := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.Path
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &gotBody)
		w.Header().Set("Content-Type", "application/json")
		if fail {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintln(w, `{"success":false,"result":null,"errors":[{"code":11200,"message":"certificate not found"}],"messages":[]}`)
			return
		}
		fmt.Fprintln(w, `{"success":true,"result":{},"errors":[],"messages":[]}`)
	}))
	defer srv.Close()
	r := pkid(t, "revoke", "-remote", srv.URL, "-serial", "123", "-aki", "AB:CD", "-reason", "keyCompromise")
	if r.code != 0 || gotPath != "/api/v1/cfssl/revoke" || gotBody["serial"] != "123" || gotBody["authority_key_id"] != "AB:CD" || gotBody["reason"] != "keyCompromise" {
		t.Fatalf("remote revoke: %+v %s %v", r, gotPath, gotBody)
	}
	fail = true
	wantFail(t, pkid(t, "revoke", "-remote", srv.URL, "-serial", "123", "-aki", "abcd"), "certificate not found")
	wantFail(t, pkid(t, "revoke", "-remote", srv.URL, "-serial", "123"), "-aki or -label is required")
	// -label asks the remote's info first; its failure names the label.
	wantFail(t, pkid(t, "revoke", "-remote", srv.URL, "-serial", "123", "-label", "x"), `-label "x": remote `)
}

func TestGencrlCommand(t *testing.T) {
	openssl := opensslPath(t)
	dir := t.TempDir()
	m := decodeResult(t, pkid(t, "gencert", "-initca", writeFile(t, dir, "ca.json", caJSON)))
	caFile := writeFile(t, dir, "ca.pem", m["cert"])
	keyFile := writeFile(t, dir, "ca-key.pem", m["key"])
	serials := writeFile(t, dir, "serials", "12345\n\n678\n")

	r := pkid(t, "gencrl", serials, caFile, keyFile, "3600")
	if r.code != 0 || !strings.HasSuffix(r.stdout, "\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("gencrl: %+v", r)
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 2 || crl.RevokedCertificateEntries[0].SerialNumber.String() != "12345" ||
		crl.RevokedCertificateEntries[1].SerialNumber.String() != "678" || crl.NextUpdate.Sub(crl.ThisUpdate).Seconds() != 3600 {
		t.Fatalf("CRL %+v", crl)
	}
	derFile := filepath.Join(dir, "crl.der")
	if err := os.WriteFile(derFile, der, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "crl", "-inform", "DER", "-in", derFile, "-CAfile", caFile, "-noout", "-verify").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verify OK") {
		t.Fatalf("openssl crl: %v %s", err, out)
	}
	// Without SECONDS: one week.
	r = pkid(t, "gencrl", serials, caFile, keyFile)
	der, _ = base64.StdEncoding.DecodeString(strings.TrimSpace(r.stdout))
	if crl, err := x509.ParseRevocationList(der); err != nil || crl.NextUpdate.Sub(crl.ThisUpdate).Hours() != 168 {
		t.Fatalf("default validity: %v %+v", err, r)
	}

	wantFail(t, pkid(t, "gencrl", writeFile(t, dir, "bad", "12x\n"), caFile, keyFile), "not a decimal serial")
	wantFail(t, pkid(t, "gencrl", serials, keyFile, keyFile), "malformed certificate")
	wantFail(t, pkid(t, "gencrl", serials, caFile, caFile), "malformed private key")
	wantFail(t, pkid(t, "gencrl", serials, caFile, keyFile, "soon"), "SECONDS")
	if r := pkid(t, "gencrl", serials); r.code == 0 {
		t.Errorf("missing arguments accepted: %+v", r)
	}
}

func TestCRLCommandOut(t *testing.T) {
	cfg, dir, iss, _ := revocationSetup(t, 2, 0)
	if r := pkid(t, "revoke", "-config", cfg, "-label", "issuing", "-serial", iss[0].SerialNumber.String(), "-reason", "1"); r.code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	out := filepath.Join(dir, "issuing.crl")
	r := pkid(t, "crl", "-config", cfg, "-label", "issuing", "-out", out, "-idp", "http://crl.example/issuing.crl")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "1 entries") {
		t.Fatalf("crl -out: %+v", r)
	}
	der, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	full, err := x509.ParseRevocationList(der)
	if err != nil || len(full.RevokedCertificateEntries) != 1 {
		t.Fatalf("full CRL: %v %+v", err, full)
	}
	idp := false
	for _, ext := range full.Extensions {
		if ext.Id.String() == "2.5.29.28" && ext.Critical && strings.Contains(string(ext.Value), "http://crl.example/issuing.crl") {
			idp = true
		}
	}
	if !idp {
		t.Errorf("no issuing distribution point: %+v", full.Extensions)
	}

	// A delta since after the first revocation lists only the later one.
	since := full.ThisUpdate.Add(time.Second)
	time.Sleep(1100 * time.Millisecond)
	if r := pkid(t, "revoke", "-config", cfg, "-label", "issuing", "-serial", iss[1].SerialNumber.String(), "-reason", "4"); r.code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	r = pkid(t, "crl", "-config", cfg, "-label", "issuing", "-delta-base", full.Number.String(), "-delta-since", since.Format(time.RFC3339))
	der, err = base64.StdEncoding.DecodeString(strings.TrimSpace(r.stdout))
	if r.code != 0 || err != nil {
		t.Fatalf("delta crl: %v %+v", err, r)
	}
	delta, err := x509.ParseRevocationList(der)
	if err != nil || len(delta.RevokedCertificateEntries) != 1 || delta.RevokedCertificateEntries[0].SerialNumber.Cmp(iss[1].SerialNumber) != 0 {
		t.Fatalf("delta CRL: %v %+v", err, delta)
	}
	isDelta := false
	for _, ext := range delta.Extensions {
		if ext.Id.String() == "2.5.29.27" && ext.Critical {
			isDelta = true
		}
	}
	if !isDelta {
		t.Errorf("no delta CRL indicator")
	}
	wantFail(t, pkid(t, "crl", "-config", cfg, "-label", "issuing", "-delta-base", "1"), "both -delta-base and -delta-since")
	wantFail(t, pkid(t, "crl", "-config", cfg, "-label", "issuing", "-delta-base", "1", "-delta-since", "yesterday"), "RFC 3339")
}
