package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// configuredCA writes a pkid configuration with a file keystore, the
// SQLite store and two CAs (ECDSA and RSA with an RSA-PSS profile).
func configuredCA(t *testing.T) (cfg, dir string) {
	t.Helper()
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "passphrase"), []byte("test passphrase"), 0o600)
	body := `
keystore "file" "dev" {
  dir             = "DIR/keys"
  passphrase_file = "DIR/passphrase"
  kdf_work_factor = 10
}
certstore "sqlite" "main" {
  path = "DIR/pkid.db"
}
ca "issuing" {
  keystore    = keystore.dev
  key         = "issuing"
  certificate = "DIR/ca/issuing.pem"
  certstore   = certstore.main
  profile "server" {
    usages = ["digital signature", "key encipherment", "server auth"]
    expiry = "90d"
  }
}
ca "legacy" {
  keystore    = keystore.dev
  key         = "legacy"
  certificate = "DIR/ca/legacy.pem"
  certstore   = certstore.main
  profile "pss" {
    usages              = ["digital signature", "server auth"]
    expiry              = "720h"
    signature_algorithm = "SHA256-RSAPSS"
  }
}
`
	cfg = filepath.Join(dir, "pkid.hcl")
	os.WriteFile(cfg, []byte(strings.ReplaceAll(body, "DIR", dir)), 0o600)
	return cfg, dir
}

func TestConfiguredCA(t *testing.T) {
	openssl := opensslPath(t)
	cfg, dir := configuredCA(t)

	// Before ca init: a clear error pointing at the missing key.
	leaf := writeFile(t, dir, "leaf.json", leafJSON)
	r := pkid(t, "gencert", "-config", cfg, "-label", "issuing", "-profile", "server", leaf)
	if r.code == 0 || !strings.Contains(r.stderr, "pkid ca init") {
		t.Fatalf("want a pointer to pkid ca init, got %+v", r)
	}

	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "issuing", "-cn", "pkid Test Issuing CA"); r.code != 0 || !strings.Contains(r.stdout, "sha256:") {
		t.Fatalf("ca init: %+v", r)
	}
	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "issuing", "-cn", "again"); r.code == 0 || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Fatalf("second ca init must refuse: %+v", r)
	}
	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "legacy", "-algorithm", "rsa-2048", "-cn", "pkid Test Legacy CA"); r.code != 0 {
		t.Fatalf("ca init rsa: %+v", r)
	}
	// The CA key lives only in the keystore, encrypted.
	entries, _ := os.ReadDir(filepath.Join(dir, "keys"))
	for _, en := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, "keys", en.Name()))
		if strings.Contains(string(data), "PRIVATE KEY") {
			t.Errorf("%s holds a plaintext private key", en.Name())
		}
	}

	m := decodeResult(t, pkid(t, "gencert", "-config", cfg, "-label", "issuing", "-profile", "server", leaf))
	leafPEM := writeFile(t, dir, "leaf.pem", m["cert"])
	caPEM := filepath.Join(dir, "ca", "issuing.pem")
	if out, err := exec.Command(openssl, "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", caPEM, leafPEM).CombinedOutput(); err != nil {
		t.Fatalf("openssl verify: %v %s", err, out)
	}

	// RSA-PSS as the profile asks.
	m = decodeResult(t, pkid(t, "gencert", "-config", cfg, "-label", "legacy", "-profile", "pss", leaf))
	pssPEM := writeFile(t, dir, "pss.pem", m["cert"])
	text, _ := exec.Command(openssl, "x509", "-noout", "-text", "-in", pssPEM).CombinedOutput()
	if !strings.Contains(string(text), "rsassaPss") {
		t.Errorf("profile asked for RSA-PSS; certificate says:\n%s", text)
	}
	if out, err := exec.Command(openssl, "verify", "-CAfile", filepath.Join(dir, "ca", "legacy.pem"), pssPEM).CombinedOutput(); err != nil {
		t.Fatalf("openssl verify PSS: %v %s", err, out)
	}

	// Record before return: both certificates are in the store, by issuer.
	r = pkid(t, "certstore", "main", "list", "-config", cfg, "-format", "json")
	var recs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 2 {
		t.Fatalf("certstore list: %v %+v", err, r)
	}
	labels := map[string]bool{}
	for _, rec := range recs {
		labels[rec["issuer_label"].(string)] = true
	}
	if !labels["issuing"] || !labels["legacy"] {
		t.Errorf("issuer labels in the store: %v", labels)
	}

	// info on a configured CA.
	r = pkid(t, "info", "-config", cfg, "-label", "issuing", "-profile", "server")
	var info struct {
		Certificate string
		Usages      []string
		Expiry      string
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || r.code != 0 {
		t.Fatalf("info: %v %+v", err, r)
	}
	caBytes, _ := os.ReadFile(caPEM)
	if info.Certificate != strings.TrimSuffix(string(caBytes), "\n") || info.Expiry != "2160h" || !strings.Contains(strings.Join(info.Usages, ","), "server auth") {
		t.Errorf("info = %+v", info)
	}

	// Label errors.
	if r := pkid(t, "gencert", "-config", cfg, "-profile", "server", leaf); r.code == 0 || !strings.Contains(r.stderr, "-label") {
		t.Errorf("two CAs and no -label: %+v", r)
	}
	if r := pkid(t, "gencert", "-config", cfg, "-label", "nope", leaf); r.code == 0 || !strings.Contains(r.stderr, `"nope"`) {
		t.Errorf("unknown label: %+v", r)
	}
}
