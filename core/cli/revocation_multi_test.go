package cli

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca/csr"
	"golang.org/x/crypto/ocsp"
)

const twoIssuerConfig = `
pkid {
  state_dir = "DIR/state"
}
keystore "file" "dev" {
  dir             = "DIR/keys"
  passphrase_file = "DIR/passphrase"
  kdf_work_factor = 10
}
certstore "sqlite" "main" {
  path = "DIR/pkid.db"
}
ca "alpha" {
  keystore    = keystore.dev
  key         = "alpha"
  certificate = "DIR/ca/alpha.pem"
  certstore   = certstore.main
  ocsp {
    responder_key         = "alpha-ocsp"
    responder_certificate = "DIR/ca/alpha-ocsp.pem"
  }
  profile "server" {
    usages = ["digital signature", "key encipherment", "server auth"]
    expiry = "90d"
  }
}
ca "beta" {
  keystore    = keystore.dev
  key         = "beta"
  certificate = "DIR/ca/beta.pem"
  certstore   = certstore.main
  profile "server" {
    usages = ["digital signature", "key encipherment", "server auth"]
    expiry = "90d"
  }
}
`

// Two issuers in one store behind one responder: every certificate's OCSP
// status is right (POST and GET, SHA-1 and SHA-256 CertIDs, openssl as the
// client and verifier), alpha's responses come from its delegated
// responder, and each issuer's CRL lists only its own revocations.
func TestTwoIssuersOneResponder(t *testing.T) {
	openssl := opensslPath(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "passphrase"), []byte("test passphrase"), 0o600)
	cfg := writeFile(t, dir, "pkid.hcl", strings.ReplaceAll(twoIssuerConfig, "DIR", dir))
	if r := pkid(t, "validate", "-config", cfg); r.code != 0 {
		t.Fatalf("validate: %+v", r)
	}
	for _, c := range [][]string{{"alpha"}, {"beta", "-algorithm", "rsa-2048"}} {
		if r := pkid(t, append([]string{"ca", "init", "-config", cfg, "-cn", "pkid " + c[0], "-ca"}, c...)...); r.code != 0 {
			t.Fatalf("ca init %s: %+v", c[0], r)
		}
	}
	if r := pkid(t, "ca", "ocsp-responder", "-config", cfg, "-ca", "alpha"); r.code != 0 || !strings.Contains(r.stdout, "responder_key") {
		t.Fatalf("ca ocsp-responder: %+v", r)
	}
	d := startDaemon(t, "serve", "-config", cfg, "-listen", "127.0.0.1:0")
	caFile := map[string]string{"alpha": filepath.Join(dir, "ca", "alpha.pem"), "beta": filepath.Join(dir, "ca", "beta.pem")}
	caCert := map[string]*x509.Certificate{}
	for l, f := range caFile {
		certs, err := authority.ReadCertificates(f)
		if err != nil {
			t.Fatal(err)
		}
		caCert[l] = certs[0]
	}

	type leaf struct {
		label, file string
		cert        *x509.Certificate
		want        string // good, or the revocation reason name
	}
	var leaves []*leaf
	for _, label := range []string{"alpha", "beta"} {
		for i := range 2 {
			req := &csr.Request{CN: fmt.Sprintf("%s%d.example.com", label, i), Hosts: []string{fmt.Sprintf("%s%d.example.com", label, i)}}
			key, _ := req.KeyRequest.Generate()
			csrPEM, _ := csr.Generate(req, key)
			_, env, err := post(d.base, "sign", map[string]string{"certificate_request": string(csrPEM), "profile": "server", "label": label})
			if err != nil || !env.Success {
				t.Fatalf("sign %s: %v %+v", label, err, env)
			}
			var res struct{ Certificate string }
			json.Unmarshal(env.Result, &res)
			b, _ := pem.Decode([]byte(res.Certificate))
			c, _ := x509.ParseCertificate(b.Bytes)
			leaves = append(leaves, &leaf{label: label, cert: c, want: "good", file: writeFile(t, dir, fmt.Sprintf("%s%d.pem", label, i), res.Certificate)})
		}
	}
	// One revocation per issuer, different reasons.
	leaves[1].want, leaves[2].want = "keyCompromise", "superseded"
	for _, l := range []*leaf{leaves[1], leaves[2]} {
		resp, env, err := post(d.base, "revoke", map[string]string{"serial": l.cert.SerialNumber.String(), "authority_key_id": hex.EncodeToString(l.cert.AuthorityKeyId), "reason": l.want})
		if err != nil || resp.StatusCode != 200 || !env.Success {
			t.Fatalf("revoke: %v %+v", err, env)
		}
	}

	ocspURL := d.base + "/ocsp"
	for _, l := range leaves {
		for _, hash := range []string{"-sha1", "-sha256"} {
			out, err := exec.Command(openssl, "ocsp", hash, "-issuer", caFile[l.label], "-cert", l.file, "-url", ocspURL, "-CAfile", caFile[l.label], "-timeout", "10").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Response verify OK") {
				t.Fatalf("openssl ocsp %s %s: %v\n%s", l.file, hash, err, out)
			}
			checkOCSPText(t, string(out), l.file, l.want)
		}
		// GET, base64 in the path, verified by openssl -respin.
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			der := ocspGET(t, ocspURL, l.cert, caCert[l.label], h)
			resp, err := ocsp.ParseResponseForCert(der, l.cert, caCert[l.label])
			if err != nil {
				t.Fatalf("GET response for %s: %v", l.file, err)
			}
			delegated := resp.Certificate != nil
			if delegated != (l.label == "alpha") {
				t.Errorf("%s: delegated responder certificate present = %v", l.label, delegated)
			}
			if delegated && !bytes.Equal(resp.Certificate.RawIssuer, caCert["alpha"].RawSubject) {
				t.Errorf("responder certificate not issued by alpha")
			}
			respFile := writeFile(t, dir, "get.der", string(der))
			out, err := exec.Command(openssl, "ocsp", "-"+strings.ToLower(h.String()[:3])+strings.TrimPrefix(h.String(), "SHA-"), "-respin", respFile, "-issuer", caFile[l.label], "-cert", l.file, "-CAfile", caFile[l.label], "-no_nonce").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Response verify OK") {
				t.Fatalf("openssl ocsp -respin (%v): %v\n%s", h, err, out)
			}
			checkOCSPText(t, string(out), l.file, l.want)
		}
	}

	// Unknown issuer → unauthorized; our issuer, unknown serial → unknown.
	foreignKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ftmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "foreign"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	fder, _ := x509.CreateCertificate(rand.Reader, ftmpl, ftmpl, &foreignKey.PublicKey, foreignKey)
	foreign, _ := x509.ParseCertificate(fder)
	_, err := ocsp.ParseResponse(ocspGET(t, ocspURL, &x509.Certificate{SerialNumber: big.NewInt(42)}, foreign, crypto.SHA1), nil)
	if re, ok := err.(ocsp.ResponseError); !ok || re.Status != ocsp.Unauthorized {
		t.Errorf("foreign issuer: want unauthorized, got %v", err)
	}
	unknownDER := ocspGET(t, ocspURL, &x509.Certificate{SerialNumber: big.NewInt(424242)}, caCert["beta"], crypto.SHA1)
	if r, err := ocsp.ParseResponse(unknownDER, caCert["beta"]); err != nil || r.Status != ocsp.Unknown {
		t.Errorf("unknown serial of beta: want a signed unknown, got %v %+v", err, r)
	}

	// Bad requests at the daemon's responder: the proper OCSP error or
	// HTTP status, and the daemon keeps answering.
	hc := &http.Client{Timeout: 10 * time.Second}
	good, _ := ocsp.CreateRequest(leaves[0].cert, caCert["alpha"], nil)
	for _, tc := range []struct {
		name, method string
		body         []byte
		status       int
		ocspBody     []byte // nil: not checked
	}{
		{"garbage", http.MethodPost, []byte("hello, responder"), 400, []byte{0x30, 0x03, 0x0a, 0x01, 0x01}},
		{"truncated", http.MethodPost, good[:len(good)-3], 400, []byte{0x30, 0x03, 0x0a, 0x01, 0x01}},
		{"empty", http.MethodPost, nil, 400, []byte{0x30, 0x03, 0x0a, 0x01, 0x01}},
		{"wrong method", http.MethodPut, good, 405, nil},
		{"oversize", http.MethodPost, bytes.Repeat([]byte{0x30}, 17<<10), 413, nil},
	} {
		req, _ := http.NewRequest(tc.method, ocspURL, bytes.NewReader(tc.body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.ocspBody != nil && !bytes.Equal(body, tc.ocspBody)) {
			t.Errorf("%s: got %d % x, want %d % x", tc.name, resp.StatusCode, body, tc.status, tc.ocspBody)
		}
	}
	if resp, err := hc.Get(ocspURL + "/not*base64"); err != nil || resp.StatusCode != 400 {
		t.Errorf("bad base64 GET: %v %v", err, resp)
	}
	if der := ocspGET(t, ocspURL, leaves[0].cert, caCert["alpha"], crypto.SHA1); len(der) == 0 {
		t.Error("the responder stopped answering after bad requests")
	}

	// Each issuer's CRL lists only its own revocation.
	for label, want := range map[string]*leaf{"alpha": leaves[1], "beta": leaves[2]} {
		resp, err := http.Get(d.base + "/api/v1/cfssl/crl?label=" + label)
		if err != nil {
			t.Fatal(err)
		}
		var env envelope
		json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		var b64 string
		json.Unmarshal(env.Result, &b64)
		der, _ := base64.StdEncoding.DecodeString(b64)
		crl, err := x509.ParseRevocationList(der)
		if err != nil || crl.CheckSignatureFrom(caCert[label]) != nil {
			t.Fatalf("crl %s: %v %+v", label, err, env)
		}
		if len(crl.RevokedCertificateEntries) != 1 || !listed(crl, want.cert) {
			t.Errorf("crl %s lists %d entries, want only %s", label, len(crl.RevokedCertificateEntries), want.file)
		}
		// The published delta, made on revocation, too.
		delta, err := x509.ParseRevocationList(httpGet(t, d.base+"/crl/"+label+"-delta.crl"))
		if err != nil || delta.CheckSignatureFrom(caCert[label]) != nil {
			t.Fatalf("delta %s: %v", label, err)
		}
		for _, e := range delta.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(want.cert.SerialNumber) != 0 {
				t.Errorf("delta CRL of %s lists a foreign serial %s", label, e.SerialNumber)
			}
		}
	}
}

// checkOCSPText checks openssl ocsp's verdict for file.
func checkOCSPText(t *testing.T, out, file, want string) {
	t.Helper()
	if want == "good" {
		if !strings.Contains(out, file+": good") {
			t.Errorf("%s: want good:\n%s", file, out)
		}
		return
	}
	if !strings.Contains(out, file+": revoked") || !strings.Contains(out, "Reason: "+want) {
		t.Errorf("%s: want revoked (%s):\n%s", file, want, out)
	}
}

// ocspGET asks the responder by GET with the request's base64 in the path.
func ocspGET(t *testing.T, base string, cert, issuer *x509.Certificate, h crypto.Hash) []byte {
	t.Helper()
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/" + url.PathEscape(base64.StdEncoding.EncodeToString(req)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("GET: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return body
}
