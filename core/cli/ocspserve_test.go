package cli

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/authority"
	"golang.org/x/crypto/ocsp"
)

// pkid ocspserve as a standalone, read-only responder: from the certstore
// (pre-signed by ocsprefresh, re-signed by revoke) and from a CFSSL
// responses file written by ocspdump; openssl is the client.
func TestOCSPServe(t *testing.T) {
	openssl := opensslPath(t)
	cfg := nodeConfig(t, fmt.Sprintf("certstore \"sqlite\" \"main\" {\n  path = %q\n}\n", filepath.Join(t.TempDir(), "pkid.db")))
	initIssuing(t, cfg)
	dir := filepath.Dir(cfg)
	caFile := filepath.Join(dir, "ca", "issuing.pem")
	caCerts, err := authority.ReadCertificates(caFile)
	if err != nil {
		t.Fatal(err)
	}
	leafCSR := writeFile(t, dir, "leaf.json", leafJSON)
	var files []string
	var certs []*x509.Certificate
	for i := range 3 {
		m := decodeResult(t, pkid(t, "gencert", "-config", cfg, "-label", "issuing", "-profile", "server", leafCSR))
		files = append(files, writeFile(t, dir, fmt.Sprintf("leaf%d.pem", i), m["cert"]))
		b, _ := pem.Decode([]byte(m["cert"]))
		c, _ := x509.ParseCertificate(b.Bytes)
		certs = append(certs, c)
	}
	// Pre-sign, then revoke one (the CLI re-signs its stored response).
	if r := pkid(t, "ocsprefresh", "-config", cfg); r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "signed 3") {
		t.Fatalf("ocsprefresh: %+v", r)
	}
	if r := pkid(t, "revoke", "-config", cfg, "-serial", certs[1].SerialNumber.String(), "-aki", hex.EncodeToString(certs[1].AuthorityKeyId), "-reason", "superseded"); r.code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	dump := pkid(t, "ocspdump", "-config", cfg)
	if dump.code != 0 || len(strings.Fields(dump.stdout)) != 3 {
		t.Fatalf("ocspdump: %+v", dump)
	}
	responses := writeFile(t, dir, "responses", dump.stdout)

	want := []string{"good", "revoked", "good"}
	check := func(url string, noNonce bool) {
		t.Helper()
		for i, f := range files {
			args := []string{"ocsp", "-issuer", caFile, "-cert", f, "-url", url, "-CAfile", caFile, "-timeout", "10"}
			if noNonce {
				args = append(args, "-no_nonce")
			}
			out, err := exec.Command(openssl, args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Response verify OK") || !strings.Contains(string(out), f+": "+want[i]) {
				t.Fatalf("openssl ocsp %s against %s: want %s: %v\n%s", f, url, want[i], err, out)
			}
		}
	}

	// Store-backed, never signing: pre-signed responses only; an unknown
	// serial of our CA is unauthorized (nothing to sign it with).
	d := startDaemon(t, "ocspserve", "-config", cfg, "-no-sign", "-listen", "127.0.0.1:0", "-path", "/ocsp")
	check(d.base+"/ocsp", true)
	unknown := ocspGET(t, d.base+"/ocsp", &x509.Certificate{SerialNumber: big.NewInt(7)}, caCerts[0], crypto.SHA1)
	if _, err := ocsp.ParseResponse(unknown, nil); err == nil || err.(ocsp.ResponseError).Status != ocsp.Unauthorized {
		t.Errorf("-no-sign, unknown serial: want unauthorized, got %v", err)
	}

	// Store-backed with the CA keys: nonces are answered live.
	d = startDaemon(t, "ocspserve", "-config", cfg, "-listen", "127.0.0.1:0")
	check(d.base, false)
	if out, _ := exec.Command(openssl, "ocsp", "-issuer", caFile, "-cert", files[0], "-url", d.base, "-CAfile", caFile).CombinedOutput(); strings.Contains(string(out), "WARNING: no nonce") {
		t.Errorf("live responder did not echo the nonce:\n%s", out)
	}

	// From the dumped responses file (CFSSL's format), no store at all.
	d = startDaemon(t, "ocspserve", "-responses", responses, "-ca", caFile, "-listen", "127.0.0.1:0")
	check(d.base, true)

	// Bad invocations: non-zero, a one-line error first (usage follows).
	for _, args := range [][]string{
		{"ocspserve", "-responses", responses},
		{"ocspserve", "-responses", responses, "-ca", caFile, "-config", cfg},
		{"ocspserve", "-config", cfg, "-path", "ocsp"},
	} {
		if r := pkid(t, args...); r.code == 0 || !strings.HasPrefix(r.stderr, "pkid: ") {
			t.Errorf("pkid %v: want an error line, got %+v", args, r)
		}
	}
}
