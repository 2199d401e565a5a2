package daemon_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/devtest"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/catalog"
)

// loadDevWith loads dev mode's configuration (plugins in process) plus
// extra blocks.
func loadDevWith(t *testing.T, extra string) *catalog.Loaded {
	t.Helper()
	loaded, _, _ := devtest.Load(t, devtest.Options{Append: extra})
	return loaded
}

// chainFiles writes a root and a leaf under it as PEM and returns them.
func chainFiles(t *testing.T, dir string) (rootPEM, leafPEM []byte) {
	t.Helper()
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "trust test root"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(90 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rder, _ := x509.CreateCertificate(rand.Reader, rt, rt, &rk.PublicKey, rk)
	root, _ := x509.ParseCertificate(rder)
	lt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "www.example.com"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(60 * 24 * time.Hour), DNSNames: []string{"www.example.com"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	lder, err := x509.CreateCertificate(rand.Reader, lt, root, &lk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rder}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: lder})
}

func postBundle(t *testing.T, base string, body map[string]string) (int, envelope, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(base+"/api/v1/cfssl/bundle", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("bundle reply %s: %v", raw, err)
	}
	return resp.StatusCode, env, string(raw)
}

// TestDaemonTrust: a trust block pointed at a directory a CI job updates;
// the bundle endpoint follows it, and the daemon dials nothing by default.
func TestDaemonTrust(t *testing.T) {
	dir := t.TempDir()
	rootsDir := filepath.Join(dir, "roots")
	os.MkdirAll(rootsDir, 0o755)
	rootPEM, leafPEM := chainFiles(t, dir)
	loaded := loadDevWith(t, `
trust "files" "ci" {
  isolation     = "inprocess"
  roots         = ["`+rootsDir+`"]
  poll_interval = "100ms"
}
`)
	d, _, _ := startDaemon(t, loaded)

	// The root is not there yet: unknown authority.
	status, env, raw := postBundle(t, d.URL(), map[string]string{"certificate": string(leafPEM)})
	if status != http.StatusBadRequest || env.Success {
		t.Fatalf("bundle before the root arrived: %d %s", status, raw)
	}
	// The CI job drops the root in; the daemon picks it up.
	if err := os.WriteFile(filepath.Join(rootsDir, "root.pem"), rootPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, env, raw = postBundle(t, d.URL(), map[string]string{"certificate": string(leafPEM)})
		if status == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status != http.StatusOK || !env.Success || !strings.Contains(raw, `"root":"`+strings.ReplaceAll(strings.TrimSpace(string(rootPEM)), "\n", `\n`)) {
		t.Fatalf("bundle after the root arrived: %d %s", status, raw)
	}

	// No bundle block: the allowlist is empty and the daemon dials nothing.
	status, env, raw = postBundle(t, d.URL(), map[string]string{"domain": "127.0.0.1:1"})
	if status != http.StatusForbidden || env.Success || len(env.Errors) != 1 || !strings.Contains(env.Errors[0].Message, "127.0.0.1 is not on the allowlist") {
		t.Errorf("domain bundle with the default allowlist: %d %s", status, raw)
	}
	status, _, raw = postBundle(t, d.URL(), map[string]string{"domain": "ca.example.com"})
	if status != http.StatusForbidden || !strings.Contains(raw, "ca.example.com is not on the allowlist") {
		t.Errorf("domain bundle of a name with the default allowlist: %d %s", status, raw)
	}
}

// TestDevBundle: dev mode's trust block holds the dev CAs once the first
// start has created them, so sign with "bundle": true attaches a bundle
// ending at the dev root.
func TestDevBundle(t *testing.T) {
	loaded := devConfig(t, "")
	d, _, _ := startDaemon(t, loaded)
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, err := csr.Generate(&csr.Request{CN: "www.example.com", Hosts: []string{"www.example.com"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"certificate_request": string(csrPEM), "bundle": true})
	root := d.Set().CAs["root"].Certificate()
	deadline := time.Now().Add(10 * time.Second)
	var raw []byte
	for time.Now().Before(deadline) {
		resp, err := http.Post(d.URL()+"/api/v1/cfssl/sign", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sign: %d %s", resp.StatusCode, raw)
		}
		if strings.Contains(string(raw), `"bundle":{`) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the trust source polls every second
	}
	var env struct {
		Result struct {
			Bundle struct {
				Root   string `json:"root"`
				Bundle string `json:"bundle"`
			} `json:"bundle"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	rootPEM := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})))
	if env.Result.Bundle.Root != rootPEM || strings.Count(env.Result.Bundle.Bundle, "BEGIN CERTIFICATE") != 2 {
		t.Fatalf("sign with bundle in dev mode: %s", raw)
	}
}
