package responder

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/internal/testtool"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
	"github.com/pkid/pkid/sdk"
	"golang.org/x/crypto/ocsp"
)

const e2eConfig = `{"signing":{"default":{"usages":["digital signature","server auth"],"expiry":"720h"}}}`

// realEnv is a real *ca.Issuer recording into an in-process SQLite
// certstore, served by a live StoreSource.
type realEnv struct {
	iss   *ca.Issuer
	ca    *testCA
	store *storesqlite.Store
	h     *Handler
	srv   *httptest.Server
	leaf  *x509.Certificate
	dir   string
}

func newRealEnv(t *testing.T) *realEnv {
	t.Helper()
	ctx := context.Background()
	e := &realEnv{ca: newTestCA(t, "pkid responder e2e CA"), dir: t.TempDir()}
	store, err := storesqlite.Open(ctx, storesqlite.Options{Path: filepath.Join(e.dir, "certs.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e.store = store
	cfg, err := profile.ParseCFSSL([]byte(e2eConfig))
	if err != nil {
		t.Fatal(err)
	}
	e.iss, err = ca.NewIssuer(ca.IssuerConfig{Label: "e2e", Certificate: e.ca.cert, Signer: e.ca.key, Profiles: cfg, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "leaf.example.com"}, DNSNames: []string{"leaf.example.com"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := e.iss.Sign(ctx, ca.SignRequest{CSR: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})})
	if err != nil {
		t.Fatal(err)
	}
	e.leaf = leaf.Cert
	e.h = NewHandler(&StoreSource{Issuers: []Issuer{e.iss}, Store: store, Live: true, WriteBack: true}, Options{})
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *realEnv) revoke(t *testing.T) {
	t.Helper()
	err := e.store.Revoke(context.Background(), sdk.RevokeRequest{Serial: e.leaf.SerialNumber.String(),
		AKI: hex.EncodeToString(e.ca.cert.SubjectKeyId), Reason: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.h.Forget(e.leaf.SerialNumber)
}

// End to end with Go's client: GET and POST, SHA-1 and SHA-256, nonce,
// unknown serial, revocation + Forget.
func TestStoreSourceEndToEnd(t *testing.T) {
	e := newRealEnv(t)
	status := func(h crypto.Hash, get bool, serial *big.Int, nonce []byte) (*ocsp.Response, string) {
		t.Helper()
		der := e.ca.request(t, serial, h)
		if nonce != nil {
			der = encodeRequest(reqSpec{ids: []*Request{e.ca.certIDOf(t, serial, h)}, exts: [][2][]byte{nonceExt(nonce)}})
		}
		var body []byte
		var cc string
		if get {
			resp, b := do(t, "GET", e.srv.URL+"/"+url.PathEscape(b64(der)), nil)
			body, cc = b, resp.Header.Get("Cache-Control")
		} else {
			resp, b := do(t, "POST", e.srv.URL+"/", der, "Content-Type", "application/ocsp-request")
			body, cc = b, resp.Header.Get("Cache-Control")
		}
		r, err := ocsp.ParseResponseForCert(body, &x509.Certificate{SerialNumber: serial}, e.ca.cert)
		if err != nil {
			t.Fatalf("%v get=%v: %v (body %x)", h, get, err, body)
		}
		if r.IssuerHash != h {
			t.Errorf("response CertID hash %v, want %v", r.IssuerHash, h)
		}
		return r, cc
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		for _, get := range []bool{true, false} {
			if r, _ := status(h, get, e.leaf.SerialNumber, nil); r.Status != ocsp.Good {
				t.Errorf("%v get=%v: status %d, want good", h, get, r.Status)
			}
		}
	}
	// Written back (SHA-1 only).
	aki := hex.EncodeToString(e.ca.cert.SubjectKeyId)
	if rec, err := e.store.GetOCSP(context.Background(), e.leaf.SerialNumber.String(), aki); err != nil || len(rec.Response) == 0 {
		t.Errorf("no write-back: %v", err)
	}
	// A nonce is echoed and the reply is not cacheable.
	r, cc := status(crypto.SHA256, false, e.leaf.SerialNumber, []byte("0123456789abcdef"))
	if r.Status != ocsp.Good || cc != "max-age=0, no-cache" {
		t.Errorf("nonce: status %d, Cache-Control %q", r.Status, cc)
	}
	info, err := parseResponseInfo(r.Raw)
	if err != nil || !info.hasNonce {
		t.Errorf("nonce not echoed: %v", err)
	}
	// Unknown serial of a known issuer: signed unknown.
	if r, _ := status(crypto.SHA1, false, big.NewInt(424242), nil); r.Status != ocsp.Unknown {
		t.Errorf("unknown serial: status %d", r.Status)
	}
	// Revocation. The written-back SHA-1 response is still fresh and says
	// good; the daemon's revoke path re-signs it, here it is made stale so
	// the live path answers.
	e.revoke(t)
	if err := e.store.PutOCSP(context.Background(), &sdk.OCSPRecord{Serial: e.leaf.SerialNumber.String(), AKI: aki, Response: []byte{0}, NextUpdate: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		if r, _ := status(h, true, e.leaf.SerialNumber, nil); r.Status != ocsp.Revoked || r.RevocationReason != 1 {
			t.Errorf("%v after revoke: status %d reason %d", h, r.Status, r.RevocationReason)
		}
	}
	// Another issuer: unauthorized.
	resp, body := do(t, "POST", e.srv.URL+"/", newTestCA(t, "x").request(t, big.NewInt(1), crypto.SHA1))
	checkOCSPError(t, "other issuer", resp, body, 200, unauthorizedDER)
}

func requireOpenSSL(t *testing.T) string {
	t.Helper()
	return testtool.Require(t, "openssl")
}

// openssl ocsp (POST; OpenSSL 3 has no GET option) as an independent
// client: good, then revoked after store.Revoke + Forget, with and
// without a nonce; its -reqout request parses with ParseRequest.
func TestOpenSSLClient(t *testing.T) {
	openssl := requireOpenSSL(t)
	e := newRealEnv(t)
	caF := writePEMFile(t, e.dir, "ca.pem", e.ca.cert)
	leafF := writePEMFile(t, e.dir, "leaf.pem", e.leaf)
	run := func(want string, extra ...string) {
		t.Helper()
		args := append(append([]string{"ocsp"}, extra...), "-issuer", caF, "-cert", leafF, "-url", e.srv.URL+"/", "-CAfile", caF)
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "leaf.pem: "+want) || !strings.Contains(string(out), "Response verify OK") {
			t.Fatalf("openssl %v: %v\n%s", extra, err, out)
		}
	}
	reqOut := filepath.Join(e.dir, "req.der")
	run("good", "-reqout", reqOut)
	run("good", "-no_nonce")
	run("good", "-no_nonce") // cached
	run("good", "-sha256")
	der, err := os.ReadFile(reqOut)
	if err != nil {
		t.Fatal(err)
	}
	req, err := ParseRequest(der)
	if err != nil || req.Nonce == nil || req.Serial.Cmp(e.leaf.SerialNumber) != 0 || req.Hash != crypto.SHA1 {
		t.Fatalf("openssl's request: %+v %v", req, err)
	}
	if x, err := ocsp.ParseRequest(der); err != nil || !bytes.Equal(x.IssuerKeyHash, req.KeyHash) {
		t.Fatalf("x/crypto disagrees: %v", err)
	}
	// Revoke; the written-back SHA-1 response is still fresh, so make it
	// stale as a revoke path re-signing it would (here: by removing it).
	e.revoke(t)
	aki := hex.EncodeToString(e.ca.cert.SubjectKeyId)
	if err := e.store.PutOCSP(context.Background(), &sdk.OCSPRecord{Serial: e.leaf.SerialNumber.String(), AKI: aki, Response: []byte{0}, NextUpdate: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	run("revoked")
	run("revoked", "-no_nonce")
	run("revoked", "-sha256", "-no_nonce")
}
