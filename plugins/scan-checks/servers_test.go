package scanchecks_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
	zrsa "github.com/zmap/zcrypto/rsa"
	ztls "github.com/zmap/zcrypto/tls"
	"golang.org/x/crypto/ocsp"
)

// testCA is a root and the intermediate that issues the test servers'
// leaves; servers send leaf and intermediate, instances trust the root.
type testCA struct {
	root   *x509.Certificate
	cert   *x509.Certificate // the intermediate
	key    crypto.Signer     // the intermediate's key
	pemDir string            // holds ca.pem, the roots file instances trust
	serial int64
	mu     sync.Mutex
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	mk := func(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := func(serial int64, cn string, ski []byte) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, SubjectKeyId: ski,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		}
	}
	rt := caTmpl(1, "pkid scan test root", []byte{1, 1, 1, 1})
	root := mk(rt, rt, rootKey.Public(), rootKey)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	it := caTmpl(2, "pkid scan test intermediate", []byte{2, 2, 2, 2})
	it.AuthorityKeyId = root.SubjectKeyId
	inter := mk(it, root, interKey.Public(), rootKey)
	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", root.Raw)
	return &testCA{root: root, cert: inter, key: interKey, pemDir: dir, serial: 100}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (ca *testCA) roots() string { return filepath.Join(ca.pemDir, "ca.pem") }

// leafOpts describe a leaf; zero values give a 90-day ECDSA P-256 leaf for
// 127.0.0.1 and localhost issued by the CA.
type leafOpts struct {
	key         crypto.Signer
	notBefore   time.Time
	notAfter    time.Time
	dns         []string
	noIP        bool
	ocsp, crl   string
	selfSigned  bool
	includeRoot bool // send the root after the intermediate
	sigAlg      x509.SignatureAlgorithm
}

// issue returns the leaf and its chain (leaf, CA) as a Go certificate.
func (ca *testCA) issue(t *testing.T, o leafOpts) tls.Certificate {
	t.Helper()
	if o.key == nil {
		o.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = o.notBefore.Add(89 * 24 * time.Hour)
	}
	if o.dns == nil {
		o.dns = []string{"localhost"}
	}
	ca.mu.Lock()
	ca.serial++
	serial := ca.serial
	ca.mu.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(serial),
		Subject:            pkix.Name{CommonName: o.dns[0]},
		NotBefore:          o.notBefore,
		NotAfter:           o.notAfter,
		DNSNames:           o.dns,
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		AuthorityKeyId:     ca.cert.SubjectKeyId,
		SignatureAlgorithm: o.sigAlg,
	}
	if !o.noIP {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	if o.ocsp != "" {
		tmpl.OCSPServer = []string{o.ocsp}
	}
	if o.crl != "" {
		tmpl.CRLDistributionPoints = []string{o.crl}
	}
	parent, signer := ca.cert, ca.key
	if o.selfSigned {
		tmpl.AuthorityKeyId = nil
		parent, signer = tmpl, o.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, o.key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	chain := [][]byte{der}
	if !o.selfSigned {
		chain = append(chain, ca.cert.Raw)
	}
	if o.includeRoot {
		chain = append(chain, ca.root.Raw)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: o.key, Leaf: leaf}
}

// ocspResponse is the CA's signed answer for leaf.
func (ca *testCA) ocspResponse(t *testing.T, leaf *x509.Certificate, status int) []byte {
	t.Helper()
	tmpl := ocsp.Response{Status: status, SerialNumber: leaf.SerialNumber, ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(24 * time.Hour)}
	if status == ocsp.Revoked {
		tmpl.RevokedAt = time.Now().Add(-time.Minute)
	}
	b, err := ocsp.CreateResponse(ca.cert, ca.cert, tmpl, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rsaKey(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var quietLog = log.New(io.Discard, "", 0)

// serveGo serves HTTPS with Go's crypto/tls on loopback; hsts, when set, is
// the Strict-Transport-Security header of every response.
func serveGo(t *testing.T, cfg *tls.Config, hsts string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if hsts != "" {
				w.Header().Set("Strict-Transport-Security", hsts)
			}
			io.WriteString(w, "ok\n")
		}),
		TLSConfig:         cfg,
		ErrorLog:          quietLog,
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.ServeTLS(l, "", "")
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// serveTLSOnly completes TLS handshakes and closes: a TLS service that is
// not HTTP.
func serveTLSOnly(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return l.Addr().String()
}

// serveZ serves TLS with zcrypto's server, which still speaks SSL 3.0 and
// RC4, and answers one HTTP request per connection.
func serveZ(t *testing.T, cfg *ztls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			raw, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer raw.Close()
				_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
				c := ztls.Server(raw, cfg)
				if c.Handshake() != nil {
					return
				}
				r := bufio.NewReader(io.LimitReader(c, 8<<10))
				for {
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	return l.Addr().String()
}

// zcert converts a Go certificate for zcrypto's server, which signs and
// decrypts only with its own fork of crypto/rsa.
func zcert(c tls.Certificate) ztls.Certificate {
	key := c.PrivateKey
	if k, ok := key.(*rsa.PrivateKey); ok {
		zk := &zrsa.PrivateKey{PublicKey: zrsa.PublicKey{N: k.N, E: big.NewInt(int64(k.E))}, D: k.D, Primes: k.Primes}
		zk.Precompute()
		key = zk
	}
	return ztls.Certificate{Certificate: c.Certificate, PrivateKey: key}
}

// freePort returns a loopback port nothing listens on (for programs that
// need a port on their command line).
func freePort(t *testing.T) string {
	t.Helper()
	p, err := testtool.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
}

// serveOpenSSL runs openssl s_server with args on loopback and waits until
// it accepts connections.
func serveOpenSSL(t *testing.T, c tls.Certificate, args ...string) string {
	t.Helper()
	bin := testtool.Require(t, "openssl")
	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "cert.pem"), "CERTIFICATE", c.Certificate[0])
	kder, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "key.pem"), "PRIVATE KEY", kder)
	for attempt := 0; attempt < 3; attempt++ {
		addr := freePort(t)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, append([]string{"s_server", "-accept", addr, "-cert", filepath.Join(dir, "cert.pem"),
			"-key", filepath.Join(dir, "key.pem"), "-www", "-quiet"}, args...)...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("openssl s_server: %v", err)
		}
		t.Cleanup(func() { cancel(); _ = cmd.Wait() })
		for i := 0; i < 100; i++ {
			if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				conn.Close()
				return addr
			}
			time.Sleep(30 * time.Millisecond)
		}
		cancel()
	}
	t.Fatal("openssl s_server did not start")
	return ""
}

// serveOCSP answers OCSP requests for the CA with status for every serial
// in revoked (Good otherwise), and serves crl at /crl.
func serveOCSP(t *testing.T, ca *testCA, revoked *serials) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/crl" {
			var entries []x509.RevocationListEntry
			for _, s := range revoked.list() {
				entries = append(entries, x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Now().Add(-time.Hour)})
			}
			crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour),
				NextUpdate: time.Now().Add(time.Hour), RevokedCertificateEntries: entries}, ca.cert, ca.key)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Write(crl)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, "bad request", 400)
			return
		}
		status := ocsp.Good
		if revoked.has(req.SerialNumber.Int64()) {
			status = ocsp.Revoked
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(ca.ocspResponse(t, &x509.Certificate{SerialNumber: req.SerialNumber}, status))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// serveRecorded answers every ClientHello that offers suite at version
// with the bytes of a ServerHello choosing it, and any other with a
// handshake_failure alert: enough for a prober to see what a server it
// cannot run here (EXPORT suites) would do.
func serveRecorded(t *testing.T, version, suite uint16) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	alert := []byte{21, 3, 1, 0, 2, 2, 40}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				vers, suites, ok := readClientHello(c)
				if !ok || vers < version || !containsSuite(suites, suite) {
					c.Write(alert)
					return
				}
				c.Write(serverHello(version, suite))
			}()
		}
	}()
	return l.Addr().String()
}

// serverHello is a ServerHello record (RFC 2246 7.4.1.3) with an empty
// session ID, no compression and no extensions.
func serverHello(version, suite uint16) []byte {
	body := []byte{byte(version >> 8), byte(version)}
	body = append(body, make([]byte, 32)...) // server random
	body = append(body, 0, byte(suite>>8), byte(suite), 0)
	msg := append([]byte{2, 0, 0, byte(len(body))}, body...)
	return append([]byte{22, byte(version >> 8), byte(version), 0, byte(len(msg))}, msg...)
}

// readClientHello reads one ClientHello record and returns its version
// and suites.
func readClientHello(r io.Reader) (uint16, []uint16, bool) {
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(r, hdr); err != nil || hdr[0] != 22 {
		return 0, nil, false
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil || len(b) < 4+2+32+1 || b[0] != 1 {
		return 0, nil, false
	}
	b = b[4:]
	vers := uint16(b[0])<<8 | uint16(b[1])
	b = b[34:]
	sid := int(b[0])
	if len(b) < 1+sid+2 {
		return 0, nil, false
	}
	b = b[1+sid:]
	sn := int(b[0])<<8 | int(b[1])
	if len(b) < 2+sn {
		return 0, nil, false
	}
	var suites []uint16
	for i := 2; i+1 < 2+sn; i += 2 {
		suites = append(suites, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return vers, suites, true
}

func containsSuite(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// serials is a set of revoked serial numbers, safe for the responder's
// goroutines.
type serials struct {
	mu  sync.Mutex
	set map[int64]bool
}

func (s *serials) add(n int64) { s.mu.Lock(); s.set[n] = true; s.mu.Unlock() }
func (s *serials) has(n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set[n]
}
func (s *serials) list() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for n := range s.set {
		out = append(out, n)
	}
	return out
}
