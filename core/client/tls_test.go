package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCert makes a certificate signed by parent (self-signed when nil).
func testCert(t *testing.T, cn string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRemoteTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := testCert(t, "test CA", true, nil, nil)
	srv, srvKey := testCert(t, "server", false, ca, caKey)
	cli, cliKey := testCert(t, "client", false, ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, okSign)
	}))
	s.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	s.StartTLS()
	defer s.Close()

	caFile := writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)
	certFile := writePEM(t, dir, "client.pem", "CERTIFICATE", cli.Raw)
	kb, _ := x509.MarshalECPrivateKey(cliKey)
	keyFile := writePEM(t, dir, "client-key.pem", "EC PRIVATE KEY", kb)

	cfg, err := TLSConfig(caFile, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := New(s.URL, cfg)
	if _, err := c.Sign(context.Background(), SignRequest{}); err != nil {
		t.Fatalf("mutual TLS sign: %v", err)
	}

	// Without the client certificate the handshake fails (7300).
	cfg, _ = TLSConfig(caFile, "", "")
	c, _ = New(s.URL, cfg)
	if _, err := c.Sign(context.Background(), SignRequest{}); err == nil {
		t.Error("signed without a client certificate")
	}
	// Pinned roots: another CA does not verify the server.
	other, _ := testCert(t, "other CA", true, nil, nil)
	otherFile := writePEM(t, dir, "other.pem", "CERTIFICATE", other.Raw)
	cfg, _ = TLSConfig(otherFile, certFile, keyFile)
	c, _ = New(s.URL, cfg)
	if _, err := c.Sign(context.Background(), SignRequest{}); err == nil {
		t.Error("server verified against the wrong CA")
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Error("min version not TLS 1.2")
	}

	for _, args := range [][3]string{{caFile, certFile, ""}, {filepath.Join(dir, "missing"), "", ""}, {keyFile, "", ""}} {
		if _, err := TLSConfig(args[0], args[1], args[2]); err == nil {
			t.Errorf("TLSConfig%q accepted", args)
		}
	}
	if cfg, err := TLSConfig("", "", ""); cfg != nil || err != nil {
		t.Error("no flags should give a nil config")
	}
}
