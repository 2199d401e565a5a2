package cli

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca/csr"
)

// The first proof: in dev mode, with nothing but the URLs inside an
// issued certificate, openssl ocsp says good; the revoke endpoint revokes
// it; openssl ocsp says revoked; the CRL fetched from the certificate's
// distribution point lists it and verifies (full and delta).
func TestDevModeRevocationEndToEnd(t *testing.T) {
	openssl := opensslPath(t)
	state := t.TempDir()
	d := startDev(t, state)
	dir := t.TempDir()

	leafReq := &csr.Request{CN: "revoke-me.example.com", Hosts: []string{"revoke-me.example.com"}}
	key, _ := leafReq.KeyRequest.Generate()
	csrPEM, _ := csr.Generate(leafReq, key)
	_, env, err := post(d.base, "sign", map[string]string{"certificate_request": string(csrPEM), "profile": "server"})
	if err != nil || !env.Success {
		t.Fatalf("sign: %v %+v", err, env)
	}
	var res struct{ Certificate string }
	json.Unmarshal(env.Result, &res)
	leafFile := writeFile(t, dir, "leaf.pem", res.Certificate)
	b, _ := pem.Decode([]byte(res.Certificate))
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// Only what the certificate says: its OCSP URL, CRL DP and CA issuer.
	if len(leaf.OCSPServer) != 1 || len(leaf.CRLDistributionPoints) != 1 || len(leaf.IssuingCertificateURL) != 1 {
		t.Fatalf("certificate lacks revocation URLs: ocsp %v crl %v issuer %v", leaf.OCSPServer, leaf.CRLDistributionPoints, leaf.IssuingCertificateURL)
	}
	for _, u := range append(append([]string{}, leaf.OCSPServer...), leaf.CRLDistributionPoints...) {
		if !strings.HasPrefix(u, d.base+"/") {
			t.Errorf("URL %s does not point at the dev daemon %s", u, d.base)
		}
	}
	issuerDER := httpGet(t, leaf.IssuingCertificateURL[0])
	issuerCert, err := x509.ParseCertificate(issuerDER)
	if err != nil || leaf.CheckSignatureFrom(issuerCert) != nil {
		t.Fatalf("CA issuer URL %s: %v", leaf.IssuingCertificateURL[0], err)
	}
	issuerFile := writeFile(t, dir, "issuer.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issuerDER})))
	rootFile := filepath.Join(state, "ca", "root.pem")
	chainFile := writeFile(t, dir, "chain.pem", mustRead(t, rootFile)+string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issuerDER})))

	ocspStatus := func(extra ...string) string {
		t.Helper()
		args := append([]string{"ocsp", "-issuer", issuerFile, "-cert", leafFile, "-url", leaf.OCSPServer[0], "-CAfile", chainFile, "-timeout", "10"}, extra...)
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl ocsp: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "Response verify OK") {
			t.Fatalf("openssl ocsp did not verify the response:\n%s", out)
		}
		return string(out)
	}
	if out := ocspStatus(); !strings.Contains(out, leafFile+": good") {
		t.Fatalf("before revocation:\n%s", out)
	}

	resp, env, err := post(d.base, "revoke", map[string]string{"serial": leaf.SerialNumber.String(), "authority_key_id": hex.EncodeToString(leaf.AuthorityKeyId), "reason": "keyCompromise"})
	if err != nil || resp.StatusCode != 200 || !env.Success {
		t.Fatalf("revoke: %v %+v", err, env)
	}
	for _, extra := range [][]string{nil, {"-no_nonce"}} {
		out := ocspStatus(extra...)
		if !strings.Contains(out, leafFile+": revoked") || !strings.Contains(out, "Reason: keyCompromise") {
			t.Fatalf("after revocation (%v):\n%s", extra, out)
		}
	}

	// The CRLs at the certificate's distribution point: the full CRL
	// (published before the revocation) and the delta made on revocation;
	// openssl verify with both reports the revocation.
	fullDER := httpGet(t, leaf.CRLDistributionPoints[0])
	full, err := x509.ParseRevocationList(fullDER)
	if err != nil || full.CheckSignatureFrom(issuerCert) != nil {
		t.Fatalf("full CRL: %v", err)
	}
	deltaURL := strings.TrimSuffix(leaf.CRLDistributionPoints[0], ".crl") + "-delta.crl"
	var delta *x509.RevocationList
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		delta, err = x509.ParseRevocationList(httpGet(t, deltaURL))
		if err != nil || delta.CheckSignatureFrom(issuerCert) != nil {
			t.Fatalf("delta CRL: %v", err)
		}
		if listed(delta, leaf) || listed(full, leaf) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no CRL at the distribution point lists the revoked certificate")
		}
	}
	fullFile := writeFile(t, dir, "full.crl", string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: fullDER})))
	deltaFile := writeFile(t, dir, "delta.crl", string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: delta.Raw})))
	for _, f := range []string{fullFile, deltaFile} {
		out, err := exec.Command(openssl, "crl", "-in", f, "-CAfile", chainFile, "-noout", "-verify").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "verify OK") {
			t.Fatalf("openssl crl -verify %s: %v\n%s", f, err, out)
		}
	}
	out, err := exec.Command(openssl, "verify", "-crl_check", "-use_deltas", "-CAfile", chainFile, "-CRLfile", fullFile, "-CRLfile", deltaFile, leafFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "certificate revoked") {
		t.Fatalf("openssl verify -crl_check -use_deltas should report the revocation: %v\n%s", err, out)
	}
	// The whole chain (-crl_check_all): the root's CRL comes from the
	// issuing CA certificate's own distribution point.
	if len(issuerCert.CRLDistributionPoints) != 1 {
		t.Fatalf("the dev issuing CA certificate has no CRL distribution point: %v", issuerCert.CRLDistributionPoints)
	}
	rootCRL := writeFile(t, dir, "root.crl", string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: httpGet(t, issuerCert.CRLDistributionPoints[0])})))
	out, err = exec.Command(openssl, "verify", "-crl_check_all", "-use_deltas", "-CAfile", rootFile, "-untrusted", issuerFile,
		"-CRLfile", rootCRL, "-CRLfile", fullFile, "-CRLfile", deltaFile, leafFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "certificate revoked") {
		t.Fatalf("openssl verify -crl_check_all -use_deltas should report the revocation: %v\n%s", err, out)
	}
	// Another certificate of the same CA passes the same chain check.
	_, env, err = post(d.base, "sign", map[string]string{"certificate_request": string(csrPEM), "profile": "server"})
	if err != nil || !env.Success {
		t.Fatalf("sign: %v %+v", err, env)
	}
	json.Unmarshal(env.Result, &res)
	goodFile := writeFile(t, dir, "good.pem", res.Certificate)
	out, err = exec.Command(openssl, "verify", "-crl_check_all", "-use_deltas", "-CAfile", rootFile, "-untrusted", issuerFile,
		"-CRLfile", rootCRL, "-CRLfile", fullFile, "-CRLfile", deltaFile, goodFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("openssl verify -crl_check_all of a good certificate: %v\n%s", err, out)
	}
	// Without the delta, the old full CRL does not know yet (when it
	// predates the revocation): the delta is what carried it.
	if !listed(full, leaf) {
		out, err = exec.Command(openssl, "verify", "-crl_check", "-CAfile", chainFile, "-CRLfile", fullFile, leafFile).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl verify with the older full CRL alone: %v\n%s", err, out)
		}
	}
}

func listed(crl *x509.RevocationList, c *x509.Certificate) bool {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(c.SerialNumber) == 0 {
			return true
		}
	}
	return false
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v %d %s", url, err, resp.StatusCode, body)
	}
	return body
}
