package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// mkPKI is a root with intermediates in every state mkbundle must judge,
// and a loopback server for their CRL, OCSP and AIA URLs.
type mkPKI struct {
	dir   string
	root  *x509.Certificate
	key   *ecdsa.PrivateKey
	certs map[string]*x509.Certificate // by CN
}

func newMkPKI(t *testing.T) *mkPKI {
	t.Helper()
	p := &mkPKI{dir: t.TempDir(), certs: map[string]*x509.Certificate{}}
	var revokedSerials []*big.Int
	var ocspRevoked *big.Int
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	var err error
	p.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	serial := int64(100)
	mk := func(cn string, notBefore, notAfter time.Time, edit func(*x509.Certificate)) *x509.Certificate {
		t.Helper()
		serial++
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"mkbundle test"}},
			NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
			IssuingCertificateURL: []string{srv.URL + "/root.der"}}
		if edit != nil {
			edit(tmpl)
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, p.root, &k.PublicKey, p.key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		p.certs[cn] = c
		return c
	}
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mk Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &p.key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	p.root, _ = x509.ParseCertificate(der)
	p.certs["mk Root"] = p.root

	valid := func(e func(*x509.Certificate)) func(string) *x509.Certificate {
		return func(cn string) *x509.Certificate { return mk(cn, now.Add(-time.Hour), now.Add(24*time.Hour), e) }
	}
	crl := func(c *x509.Certificate) { c.CRLDistributionPoints = []string{srv.URL + "/root.crl"} }
	ocspURL := func(c *x509.Certificate) { c.OCSPServer = []string{srv.URL + "/ocsp"} }
	deadOCSP := func(c *x509.Certificate) { c.OCSPServer = []string{srv.URL + "/down"} }
	valid(crl)("crl good")
	revokedSerials = append(revokedSerials, valid(crl)("crl revoked").SerialNumber)
	valid(ocspURL)("ocsp good")
	ocspRevoked = valid(ocspURL)("ocsp revoked").SerialNumber
	valid(nil)("unchecked")
	valid(deadOCSP)("ocsp down")
	mk("expired", now.Add(-48*time.Hour), now.Add(-24*time.Hour), nil)
	mk("not yet", now.Add(24*time.Hour), now.Add(48*time.Hour), nil)

	// A self-signed certificate whose signature is corrupt.
	self := *rootTmpl
	self.Subject.CommonName, self.SerialNumber = "broken self-signed", big.NewInt(999)
	der, _ = x509.CreateCertificate(rand.Reader, &self, &self, &p.key.PublicKey, p.key)
	der[len(der)-5] ^= 0xff
	broken, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p.certs["broken self-signed"] = broken

	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: revokedSerials[0], RevocationTime: now.Add(-time.Minute)}}},
		p.root, p.key)
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/root.der", func(w http.ResponseWriter, r *http.Request) { w.Write(p.root.Raw) })
	mux.HandleFunc("/root.crl", func(w http.ResponseWriter, r *http.Request) { w.Write(crlDER) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/ocsp/", func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Method == http.MethodPost {
			body, _ = io.ReadAll(io.LimitReader(r.Body, 4096))
		} else { // CFSSL GETs small requests: /ocsp/<url-escaped base64>
			s, _ := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/ocsp/"))
			body, _ = base64.StdEncoding.DecodeString(s)
		}
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			w.Write(ocsp.MalformedRequestErrorResponse)
			return
		}
		tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: req.SerialNumber, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}
		if req.SerialNumber.Cmp(ocspRevoked) == 0 {
			tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, now.Add(-time.Minute), ocsp.KeyCompromise
		}
		resp, err := ocsp.CreateResponse(p.root, p.root, tmpl, p.key)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(resp)
	})
	mux.HandleFunc("/ocsp", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/ocsp/"
		mux.ServeHTTP(w, r)
	})

	// The inputs: a PEM bundle, single DER files in a sub-directory, a
	// duplicate, and files that are not certificates.
	var bundle []byte
	for _, cn := range []string{"crl good", "crl revoked", "ocsp good", "ocsp revoked"} {
		bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.certs[cn].Raw})...)
	}
	p.write(t, "bundle.pem", bundle)
	for _, cn := range []string{"mk Root", "unchecked", "ocsp down", "expired", "not yet", "broken self-signed"} {
		p.write(t, "sub/"+strings.ReplaceAll(cn, " ", "_")+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.certs[cn].Raw}))
	}
	// A DER copy of one already read (CFSSL reads PEM only; pkid both).
	p.write(t, "sub/crl_good.der", p.certs["crl good"].Raw)
	p.write(t, "sub/README", []byte("not a certificate"))
	p.write(t, "sub/key.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}))
	return p
}

func (p *mkPKI) write(t *testing.T, name string, b []byte) {
	t.Helper()
	path := filepath.Join(p.dir, "in", name)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// bundleCNs reads an mkbundle output file as the sorted CNs it holds.
func bundleCNs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c.Subject.CommonName)
	}
	return out
}

func TestMkbundle(t *testing.T) {
	p := newMkPKI(t)
	in := filepath.Join(p.dir, "in")
	out := filepath.Join(p.dir, "pkid.crt")
	r := pkid(t, "mkbundle", "-f", out, "-nw", "3", in)
	if r.code != 0 {
		t.Fatalf("mkbundle: %d %s", r.code, r.stderr)
	}
	got := bundleCNs(t, out)
	// Sorted by subject: the DN string starts with CN.
	want := []string{"crl good", "mk Root", "ocsp down", "ocsp good", "unchecked"}
	if !slices.Equal(got, want) {
		t.Errorf("kept %q, want %q", got, want)
	}
	for _, line := range []string{
		"dropped CN=crl revoked,O=mkbundle test", "revoked (CRL http://127.0.0.1",
		"dropped CN=ocsp revoked,O=mkbundle test", "revoked (OCSP)",
		"dropped CN=expired,O=mkbundle test", ": expired ",
		"dropped CN=not yet,O=mkbundle test", "not valid until",
		"dropped CN=broken self-signed", "self-signature does not verify",
		"warning: kept CN=ocsp down,O=mkbundle test", "revocation check incomplete", "HTTP 503",
		"skipped " + filepath.Join(in, "sub", "README"), "skipped " + filepath.Join(in, "sub", "key.pem"),
		"checked 10/10 [==============================]",
		"wrote 5 certificates to " + out + " (5 dropped)",
	} {
		if !strings.Contains(r.stderr, line) {
			t.Errorf("stderr lacks %q:\n%s", line, r.stderr)
		}
	}

	// -progress: the bar as lines on a non-terminal (no redraw codes), at
	// most two a second, and the final one.
	start := time.Now()
	r = pkid(t, "mkbundle", "-progress", "-f", out, in)
	bars := regexp.MustCompile(`(?m)^checked \d+/10 \[[= ]{30}\]$`).FindAllString(r.stderr, -1)
	if r.code != 0 || strings.Contains(r.stderr, "\r") || len(bars) < 2 || len(bars) > int(time.Since(start)/progressInterval)+2 ||
		bars[len(bars)-1] != "checked 10/10 [==============================]" {
		t.Errorf("-progress: %d bars: %+v", len(bars), r)
	}

	// -strict drops what could not be checked.
	r = pkid(t, "mkbundle", "-strict", "-f", out, in)
	if got := bundleCNs(t, out); r.code != 0 || slices.Contains(got, "ocsp down") || len(got) != 4 {
		t.Errorf("-strict kept %q (%d %s)", got, r.code, r.stderr)
	}
}

// TestMkbundleOracle runs CFSSL's mkbundle on the same directory: it keeps
// the same certificates as pkid -strict except the broken self-signed one,
// which CFSSL does not check (a documented difference).
func TestMkbundleOracle(t *testing.T) {
	bin := oracle(t, "mkbundle")
	p := newMkPKI(t)
	in := filepath.Join(p.dir, "in")
	cfsslOut := filepath.Join(p.dir, "cfssl.crt")
	cmd := exec.Command(bin, "-f", cfsslOut, in)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cfssl mkbundle: %v\n%s", err, b)
	}
	want := bundleCNs(t, cfsslOut)
	slices.Sort(want) // CFSSL's order is the workers' order
	want = slices.DeleteFunc(want, func(cn string) bool { return cn == "broken self-signed" })

	out := filepath.Join(p.dir, "pkid.crt")
	if r := pkid(t, "mkbundle", "-strict", "-f", out, in); r.code != 0 {
		t.Fatalf("mkbundle: %s", r.stderr)
	}
	got := bundleCNs(t, out)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("pkid mkbundle -strict kept %q, CFSSL %q (less the broken self-signed certificate)", got, want)
	}
}

func TestMkbundleBadInput(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"mkbundle"}, "give at least one file or directory"},
		{[]string{"mkbundle", "-nw", "0", dir}, "-nw must be from 1 to 256"},
		{[]string{"mkbundle", "-nw", "100000", dir}, "-nw must be from 1 to 256"},
		{[]string{"mkbundle", "-timeout", "-1s", dir}, "-timeout must be positive"},
		{[]string{"mkbundle", "-f", filepath.Join(dir, "out.crt"), filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"mkbundle", "-f", filepath.Join(dir, "file", "out.crt"), dir}, "not a directory"},
	} {
		r := pkid(t, tt.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want non-zero and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}
