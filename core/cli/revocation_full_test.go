package cli

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca/csr"
)

// opensslListsSerial reports whether `openssl crl -inform DER -text` of der
// lists serial among its revoked certificates.
func opensslListsSerial(t *testing.T, openssl string, der []byte, serial *big.Int) (bool, string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "full.crl")
	if err := os.WriteFile(f, der, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "crl", "-inform", "DER", "-in", f, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl crl -text: %v\n%s", err, out)
	}
	// openssl prints the serial as whole bytes in upper-case hex.
	return strings.Contains(string(out), "Serial Number: "+strings.ToUpper(hex.EncodeToString(serial.Bytes()))+"\n"), string(out)
}

// Issue 11 item 9: right after revoke, the full CRL at the certificate's
// distribution point (the one openssl, nginx and Go read) lists it; no
// waiting for the hourly schedule.
func TestFullCRLListsRevocationAtOnce(t *testing.T) {
	openssl := opensslPath(t)
	d := startDev(t, t.TempDir())
	req := &csr.Request{CN: "full-crl.example.com", Hosts: []string{"full-crl.example.com"}}
	key, _ := req.KeyRequest.Generate()
	csrPEM, _ := csr.Generate(req, key)
	_, env, err := post(d.base, "sign", map[string]string{"certificate_request": string(csrPEM), "profile": "server"})
	if err != nil || !env.Success {
		t.Fatalf("sign: %v %+v", err, env)
	}
	var res struct{ Certificate string }
	json.Unmarshal(env.Result, &res)
	leaf := mustParsePEM(t, res.Certificate)
	if len(leaf.CRLDistributionPoints) != 1 {
		t.Fatalf("CRL distribution points %v", leaf.CRLDistributionPoints)
	}
	// The full CRL exists before the revocation and does not list it.
	if ok, out := opensslListsSerial(t, openssl, httpGet(t, leaf.CRLDistributionPoints[0]), leaf.SerialNumber); ok {
		t.Fatalf("listed before the revocation:\n%s", out)
	}
	resp, env, err := post(d.base, "revoke", map[string]string{"serial": leaf.SerialNumber.String(), "authority_key_id": hex.EncodeToString(leaf.AuthorityKeyId), "reason": "keyCompromise"})
	if err != nil || resp.StatusCode != 200 || !env.Success {
		t.Fatalf("revoke: %v %+v", err, env)
	}
	der := httpGet(t, leaf.CRLDistributionPoints[0])
	if ok, out := opensslListsSerial(t, openssl, der, leaf.SerialNumber); !ok {
		t.Fatalf("the full CRL at %s does not list serial %X right after the revocation:\n%s", leaf.CRLDistributionPoints[0], leaf.SerialNumber, out)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if crl.Number == nil || len(crl.Extensions) == 0 {
		t.Fatalf("full CRL without number: %+v", crl)
	}
}

// An offline `pkid revoke` (and revoke -all) beside a running daemon: the
// full CRL the daemon publishes from state_dir/crl lists the revocation at
// once, not at its next scheduled run.
func TestOfflineRevokeRefreshesPublishedCRL(t *testing.T) {
	openssl := opensslPath(t)
	cfg, dir, iss, _ := revocationSetup(t, 3, 0)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "pkid {\n  state_dir = %q\n}\n", filepath.Join(dir, "state"))
	f.Close()
	d := startDaemon(t, "serve", "-config", cfg, "-listen", "127.0.0.1:0")
	url := d.base + "/crl/issuing.crl"
	if ok, out := opensslListsSerial(t, openssl, httpGet(t, url), iss[0].SerialNumber); ok {
		t.Fatalf("listed before the revocation:\n%s", out)
	}
	if r := pkid(t, "revoke", "-config", cfg, "-label", "issuing", "-serial", iss[0].SerialNumber.String()); r.code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	if ok, out := opensslListsSerial(t, openssl, httpGet(t, url), iss[0].SerialNumber); !ok {
		t.Fatalf("the daemon's full CRL does not list serial %s after an offline revoke:\n%s", iss[0].SerialNumber, out)
	}
	if r := pkid(t, "revoke", "-config", cfg, "-all", "-label", "issuing"); r.code != 0 {
		t.Fatalf("revoke -all: %+v", r)
	}
	der := httpGet(t, url)
	for _, c := range iss {
		if ok, out := opensslListsSerial(t, openssl, der, c.SerialNumber); !ok {
			t.Fatalf("the daemon's full CRL does not list serial %s after revoke -all:\n%s", c.SerialNumber, out)
		}
	}
}
