// Package pkidtest runs a real pkid daemon for tests of its clients (the
// transport library, pkid agent): dev mode's two-level CA on 127.0.0.1,
// served over TLS behind a TCP relay that a test can take down and bring
// back, so "the CA went away" is a real outage of every URL the issued
// certificates name (API, OCSP, CRL).
package pkidtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pkid/pkid/internal/devtest"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/client"
	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/devmode"
)

// AuthKeyHex is the HMAC key of profile "mtls" (auth_key "k"), and of
// revoke.
const AuthKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// Options configures Start.
type Options struct {
	// Expiry is profile "mtls"'s lifetime (e.g. "20s"; default "1h").
	Expiry string
	// RequireClientCerts makes the daemon require client certificates
	// that chain to the dev root (its tls client_ca).
	RequireClientCerts bool
}

// CA is a running daemon.
type CA struct {
	// URL is the daemon's public URL (through the relay).
	URL string
	// RootCAs verifies the daemon's TLS certificate; TLSCertFile is that
	// certificate.
	RootCAs     *x509.CertPool
	TLSCertFile string
	// Roots holds the dev root CA: the pool peers verify each other with;
	// RootFile is it as PEM.
	Roots    *x509.CertPool
	RootFile string
	// AuthKey is AuthKeyHex decoded.
	AuthKey []byte
	// Label and Profile to request.
	Label, Profile string

	relay *relay
	d     *daemon.Daemon
}

// Issue signs a certificate for cn with profile "mtls" directly with the
// daemon's issuing CA (no API call), for tests that need a client
// certificate before they can talk to the daemon. The chain holds the
// issuing CA after the leaf.
func (c *CA) Issue(t TB, cn string) tls.Certificate {
	t.Helper()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	req, err := csr.Generate(&csr.Request{CN: cn, KeyRequest: csr.DefaultKeyRequest()}, key)
	if err != nil {
		t.Fatal(err)
	}
	iss := c.d.Set().CAs[c.Label]
	cert, err := iss.Sign(context.Background(), ca.SignRequest{CSR: req, Profile: c.Profile})
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.DER, iss.Certificate().Raw}, PrivateKey: key, Leaf: cert.Cert}
}

// TB is the part of testing.TB that Start uses.
type TB interface {
	Helper()
	Fatal(args ...any)
	Error(args ...any)
	TempDir() string
	Cleanup(func())
}

// Run starts a daemon for fn outside a test (runnable examples), and
// stops it when fn returns.
func Run(opts Options, fn func(*CA)) (err error) {
	tb := &runTB{}
	defer func() {
		for i := len(tb.cleanups) - 1; i >= 0; i-- {
			tb.cleanups[i]()
		}
		for _, d := range tb.dirs {
			os.RemoveAll(d)
		}
		if r := recover(); r != nil {
			f, ok := r.(runFatal)
			if !ok {
				panic(r)
			}
			err = errors.New(string(f))
		}
	}()
	fn(Start(tb, opts))
	return nil
}

type runFatal string

type runTB struct {
	cleanups []func()
	dirs     []string
}

func (*runTB) Helper()            {}
func (*runTB) Fatal(args ...any)  { panic(runFatal(fmt.Sprint(args...))) }
func (*runTB) Error(args ...any)  { fmt.Fprintln(os.Stderr, args...) }
func (r *runTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *runTB) TempDir() string {
	d, err := os.MkdirTemp("", "pkidtest")
	if err != nil {
		panic(runFatal(err.Error()))
	}
	r.dirs = append(r.dirs, d)
	return d
}

// Start runs a daemon until the test ends.
func Start(t TB, opts Options) *CA {
	t.Helper()
	if opts.Expiry == "" {
		opts.Expiry = "1h"
	}
	dir := t.TempDir()
	rl, err := newRelay()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rl.close)
	certFile, keyFile, pool := serverCert(t, dir)
	public := "https://" + rl.ln.Addr().String()
	loaded, _, _ := devtest.Load(t, devtest.Options{Dir: dir,
		Pkid: fmt.Sprintf("  public_url = %q\n  auth_key \"k\" {\n    key = %q\n  }\n  auth_key \"revoke\" {\n    key = %q\n  }\n", public, AuthKeyHex, AuthKeyHex),
		Replace: []string{
			`keystore "file" "dev" {`, "keystore \"file\" \"dev\" {\n  kdf_work_factor = 10",
			`  profile "server" {`, fmt.Sprintf("  profile \"mtls\" {\n    usages = [\"digital signature\", \"key encipherment\", \"server auth\", \"client auth\"]\n    expiry = %q\n    backdate = \"1s\"\n    auth_key = \"k\"\n  }\n  profile \"server\" {", opts.Expiry),
		}})
	clientCA := ""
	if opts.RequireClientCerts {
		clientCA = filepath.Join(dir, "ca", "root.pem") // written by the bootstrap, read after it
	}
	d, err := daemon.New(context.Background(), loaded, daemon.Options{
		Listen: "127.0.0.1:0",
		TLS:    daemon.TLS{Cert: certFile, Key: keyFile, ClientCA: clientCA},
		Log:    hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Error}),
		Bootstrap: func(ctx context.Context, base string) error {
			return devmode.Bootstrap(ctx, loaded, public, io.Discard)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop")
		}
		d.Close()
	})
	rl.target = d.Addr().String()
	go rl.serve()
	key, _ := hex.DecodeString(AuthKeyHex)
	ca := &CA{URL: public, RootCAs: pool, TLSCertFile: certFile, AuthKey: key, Label: "issuing", Profile: "mtls", relay: rl, d: d,
		RootFile: filepath.Join(dir, "ca", "root.pem")}
	rootPEM, err := os.ReadFile(ca.RootFile)
	if err != nil {
		t.Fatal(err)
	}
	ca.Roots = x509.NewCertPool()
	if !ca.Roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("pkidtest: no root certificate")
	}
	return ca
}

// Down makes the CA unreachable: connections through the relay are cut
// and new ones closed at once.
func (c *CA) Down() { c.relay.setDown(true) }

// Up brings it back.
func (c *CA) Up() { c.relay.setDown(false) }

// HTTPClient trusts the daemon's TLS certificate (for OCSP and CRL
// fetches, which the certificates point at the daemon's https URL).
func (c *CA) HTTPClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.RootCAs}}}
}

// Revoke revokes cert through the API (HMAC-authenticated).
func (c *CA) Revoke(ctx context.Context, cert *x509.Certificate) error {
	inner, _ := json.Marshal(client.RevokeRequest{Serial: cert.SerialNumber.String(), AKI: hex.EncodeToString(cert.AuthorityKeyId), Reason: "keyCompromise"})
	body, _ := json.Marshal(client.Wrap(c.AuthKey, inner, time.Now()))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/api/v1/cfssl/revoke", bytes.NewReader(body))
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke: %d %s", resp.StatusCode, raw)
	}
	return nil
}

// serverCert writes a self-signed certificate for 127.0.0.1.
func serverCert(t TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pkidtest daemon"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "tls.pem"), filepath.Join(dir, "tls-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

// relay forwards TCP connections to target unless down.
type relay struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func newRelay() (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &relay{ln: ln, conns: map[net.Conn]struct{}{}}, nil
}

func (r *relay) serve() {
	for {
		c, err := r.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		r.mu.Lock()
		down := r.down
		if !down {
			r.conns[c] = struct{}{}
		}
		r.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go r.pipe(c)
	}
}

func (r *relay) pipe(c net.Conn) {
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		c.Close()
	}()
	u, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.conns[u] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.conns, u)
		r.mu.Unlock()
		u.Close()
	}()
	go func() { _, _ = io.Copy(u, c); u.Close() }()
	_, _ = io.Copy(c, u)
}

func (r *relay) setDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
	if down {
		for c := range r.conns {
			c.Close()
		}
	}
}

func (r *relay) close() {
	r.ln.Close()
	r.setDown(true)
}
