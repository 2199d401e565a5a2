package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
)

// extensionOIDs parses a PEM certificate: its subject bytes and extension
// OIDs.
func extensionOIDs(t *testing.T, pemCert []byte) (subject []byte, oids []string) {
	t.Helper()
	c := parsePEMCert(t, pemCert)
	for _, e := range c.Extensions {
		oids = append(oids, e.Id.String())
	}
	return c.RawSubject, oids
}

// newcert keeps csr.json's E and OID subject attributes and the delegation
// usage extension, as CFSSL does for the same csr.json (its gencert signs
// through the same code as its newcert).
func TestParityNewcertSubject(t *testing.T) {
	bin := oracle(t, "cfssl")
	dir := t.TempDir()
	req := `{"CN": "n.example", "hosts": ["n.example", "n@example.com"], "delegation_enabled": true,
	  "names": [{"C": "US", "O": "pkid", "E": "n@example.com", "OID": {"1.2.3.4.5": "oid value"}}]}`
	f := writeFile(t, dir, "csr.json", []byte(req))
	ca := runCFSSL(t, bin, dir, "gencert", "-initca", writeFile(t, dir, "ca.json", []byte(`{"CN": "oracle CA"}`)))
	var caRes struct{ Cert, Key string }
	if err := json.Unmarshal(ca, &caRes); err != nil {
		t.Fatal(err)
	}
	out := runCFSSL(t, bin, dir, "gencert", "-ca", writeFile(t, dir, "ca.pem", []byte(caRes.Cert)),
		"-ca-key", writeFile(t, dir, "ca-key.pem", []byte(caRes.Key)), f)
	var theirs struct{ Cert string }
	if err := json.Unmarshal(out, &theirs); err != nil {
		t.Fatal(err)
	}
	wantSubject, wantOIDs := extensionOIDs(t, []byte(theirs.Cert))

	e := newEnv(t, plainConfig, nil)
	r := e.post(t, "newcert", `{"request": `+req+`, "profile": "server"}`)
	wantOK(t, r)
	var res struct{ Certificate string }
	if err := json.Unmarshal(r.Result, &res); err != nil {
		t.Fatal(err)
	}
	subject, oids := extensionOIDs(t, []byte(res.Certificate))
	if !bytes.Equal(subject, wantSubject) {
		t.Errorf("subject: cfssl %x, pkid %x", wantSubject, subject)
	}
	const delegation = "1.3.6.1.4.1.44363.44"
	if !slices.Contains(wantOIDs, delegation) || !slices.Contains(oids, delegation) {
		t.Errorf("delegation usage: cfssl %v, pkid %v", wantOIDs, oids)
	}
}

// startMultirootca runs the real multirootca on a free 127.0.0.1 port
// with one root "primary" (a fresh CA, the signing config cfgJSON) and
// returns its base URL; it is stopped when the test ends.
func startMultirootca(t *testing.T, cfgJSON string) string {
	t.Helper()
	cfssl, multirootca := oracle(t, "cfssl"), oracle(t, "multirootca")
	dir := t.TempDir()
	var ca struct{ Cert, Key string }
	if err := json.Unmarshal(runCFSSL(t, cfssl, dir, "gencert", "-initca",
		writeFile(t, dir, "ca.json", []byte(`{"CN": "oracle CA"}`))), &ca); err != nil {
		t.Fatal(err)
	}
	roots := "[primary]\nprivate = file://" + writeFile(t, dir, "ca-key.pem", []byte(ca.Key)) +
		"\ncertificate = " + writeFile(t, dir, "ca.pem", []byte(ca.Cert)) +
		"\nconfig = " + writeFile(t, dir, "config.json", []byte(cfgJSON)) + "\n"
	port, err := testtool.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(multirootca, "-a", addr, "-l", "primary", "-roots", writeFile(t, dir, "roots.conf", []byte(roots)))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("multirootca did not start: %v", err)
		}
	}
}

// authsign's crl_override replaces the CRL distribution point, as in
// multirootca (cfssl serve's authsign drops the field; pkid follows
// multirootca, whose authsign is the one that honours it).
func TestParityAuthsignCRLOverride(t *testing.T) {
	oracleURL := startMultirootca(t, authConfig)
	e := newEnv(t, authConfig, nil)
	const override = "http://crl.example/override.crl"
	inner, _ := json.Marshal(map[string]any{
		"certificate_request": string(makeCSR(t, "a.example", "a.example")), "crl_override": override,
	})
	body, _ := json.Marshal(wrap(t, testAuthKeyHex, inner))
	for _, tc := range []struct{ name, url string }{{"multirootca", oracleURL}, {"pkid", e.srv.URL}} {
		resp, err := http.Post(tc.url+BasePath+"authsign", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var env struct {
			Success bool
			Result  struct{ Certificate string }
		}
		if err := json.Unmarshal(raw, &env); err != nil || !env.Success {
			t.Fatalf("%s authsign: %v %s", tc.name, err, raw)
		}
		c := parsePEMCert(t, []byte(env.Result.Certificate))
		if !slices.Equal(c.CRLDistributionPoints, []string{override}) {
			t.Errorf("%s: CRL distribution points %v, want [%s]", tc.name, c.CRLDistributionPoints, override)
		}
	}
}

// A crl_override that is not an absolute URL, or is too long, is a 400
// naming the field, not a certificate carrying it.
func TestAuthsignCRLOverrideRefused(t *testing.T) {
	e := newEnv(t, authConfig, nil)
	for _, bad := range []string{"not a url", "/relative.crl", "http://", "http://crl.example/" + strings.Repeat("a", maxCRLOverride)} {
		inner, _ := json.Marshal(map[string]any{
			"certificate_request": string(makeCSR(t, "a.example", "a.example")), "crl_override": bad,
		})
		wantError(t, e.post(t, "authsign", wrap(t, testAuthKeyHex, inner)), 400, 400, "crl_override")
	}
}
