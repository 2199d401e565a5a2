package cli

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
	"github.com/pkid/pkid/sdk"
)

// A CA's CRL lists its revoked certificate with the reason, verifies with
// openssl, and openssl verify -crl_check rejects exactly that certificate.
func TestCRL(t *testing.T) {
	openssl := opensslPath(t)
	cfg, dir := configuredCA(t)
	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "issuing", "-cn", "pkid CRL test CA"); r.code != 0 {
		t.Fatalf("ca init: %+v", r)
	}
	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "legacy", "-algorithm", "rsa-2048", "-cn", "legacy"); r.code != 0 {
		t.Fatalf("ca init: %+v", r)
	}
	leaf := writeFile(t, dir, "leaf.json", leafJSON)
	var certs []*x509.Certificate
	var files []string
	for i := range 2 {
		m := decodeResult(t, pkid(t, "gencert", "-config", cfg, "-label", "issuing", "-profile", "server", leaf))
		b, _ := pem.Decode([]byte(m["cert"]))
		c, _ := x509.ParseCertificate(b.Bytes)
		certs = append(certs, c)
		files = append(files, writeFile(t, dir, fmt.Sprintf("leaf%d.pem", i), m["cert"]))
	}
	store, err := storesqlite.Open(context.Background(), storesqlite.Options{Path: filepath.Join(dir, "pkid.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Revoke(context.Background(), sdk.RevokeRequest{Serial: certs[1].SerialNumber.String(), AKI: hex.EncodeToString(certs[1].AuthorityKeyId), Reason: 1}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	r := pkid(t, "crl", "-config", cfg, "-label", "issuing")
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.stdout))
	if r.code != 0 || err != nil {
		t.Fatalf("crl: %v %+v", err, r)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(certs[1].SerialNumber) != 0 || crl.RevokedCertificateEntries[0].ReasonCode != 1 {
		t.Fatalf("CRL: %v %+v", err, crl)
	}
	crlPEM := writeFile(t, dir, "crl.pem", string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})))
	caPEM := filepath.Join(dir, "ca", "issuing.pem")
	out, err := exec.Command(openssl, "crl", "-in", crlPEM, "-CAfile", caPEM, "-noout", "-verify").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verify OK") {
		t.Fatalf("openssl crl -verify: %v %s", err, out)
	}
	text, _ := exec.Command(openssl, "crl", "-in", crlPEM, "-noout", "-text").CombinedOutput()
	if !strings.Contains(string(text), "Key Compromise") || !strings.Contains(string(text), "X509v3 CRL Number") {
		t.Errorf("CRL text lacks the reason or number:\n%s", text)
	}
	chain := writeFile(t, dir, "chain.pem", mustRead(t, caPEM)+mustRead(t, crlPEM))
	if out, err := exec.Command(openssl, "verify", "-crl_check", "-CAfile", chain, files[0]).CombinedOutput(); err != nil {
		t.Errorf("good certificate refused: %v %s", err, out)
	}
	out, err = exec.Command(openssl, "verify", "-crl_check", "-CAfile", chain, files[1]).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "revoked") {
		t.Errorf("revoked certificate accepted: %v %s", err, out)
	}
}
