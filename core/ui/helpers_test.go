package ui_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/devtest"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/devmode"
	"github.com/pkid/pkid/sdk"
)

// devConfig writes dev mode's configuration into a temporary state
// directory with its plugins in process and pkidBody added to its pkid
// block, and loads it.
func devConfig(t testing.TB, pkidBody string) *catalog.Loaded {
	t.Helper()
	loaded, _, _ := devtest.Load(t, devtest.Options{Pkid: pkidBody})
	return loaded
}

// newDaemon builds a daemon with dev mode's bootstrap (its CAs) and runs
// it until the test ends.
func newDaemon(t testing.TB, loaded *catalog.Loaded, opts daemon.Options) (*daemon.Daemon, error) {
	t.Helper()
	opts.Listen = "127.0.0.1:0"
	opts.Log = hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Warn})
	opts.Bootstrap = func(ctx context.Context, base string) error { return devmode.Bootstrap(ctx, loaded, base, io.Discard) }
	d, err := daemon.New(context.Background(), loaded, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return")
		}
		d.Close()
	})
	return d, nil
}

// issue signs a fresh key for cn through the API and returns the
// certificate.
func issue(t testing.TB, client *http.Client, base, cn string) *x509.Certificate {
	t.Helper()
	req := &csr.Request{CN: cn, Hosts: []string{cn}}
	key, err := req.KeyRequest.Generate()
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, err := csr.Generate(req, key)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"certificate_request": string(csrPEM), "profile": "server"})
	resp, err := client.Post(base+"/api/v1/cfssl/sign", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Success bool
		Result  struct{ Certificate string }
		Errors  []struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || !env.Success {
		t.Fatalf("sign: %d %v %+v", resp.StatusCode, err, env.Errors)
	}
	b, _ := pem.Decode([]byte(env.Result.Certificate))
	if b == nil {
		t.Fatal("sign: no certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sha(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// putHostile stores a certificate record whose subject and SANs are
// script payloads, under the default CA (the dashboard shows what the
// store holds, whoever wrote it).
func putHostile(t testing.TB, d *daemon.Daemon, loaded *catalog.Loaded, subject string, sans []string) *sdk.CertRecord {
	t.Helper()
	iss := d.Set().CAs[d.Set().Default]
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "hostile"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(5 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	rec := &sdk.CertRecord{Serial: tmpl.SerialNumber.String(), AKI: iss.AKI(), IssuerLabel: d.Set().Default, Subject: subject, SANs: sans,
		NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter, Status: sdk.StatusGood, Profile: "server", DER: der}
	if err := loaded.CertStores["main"].Put(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// pki is a throwaway CA for the listener's TLS and its clients.
type pki struct {
	dir  string
	ca   *x509.Certificate
	key  *ecdsa.PrivateKey
	once sync.Once
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	p.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test clients CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	return p
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// leaf issues a certificate for cn (server: for 127.0.0.1) and returns it
// as a tls.Certificate, with its PEM files written under the PKI's dir.
func (p *pki) leaf(t testing.TB, cn string, server bool) (tls.Certificate, string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certPath, keyPath := filepath.Join(p.dir, cn+".pem"), filepath.Join(p.dir, cn+"-key.pem")
	writePEM(t, certPath, "CERTIFICATE", der)
	writePEM(t, keyPath, "PRIVATE KEY", kder)
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPath, keyPath
}

// client trusts the PKI's CA and presents certs.
func (p *pki) client(certs ...tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
}

// fetch GETs (or sends method to) url and returns the status, headers and
// body.
func fetch(t testing.TB, c *http.Client, method, url string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, resp.Header, string(b)
}
