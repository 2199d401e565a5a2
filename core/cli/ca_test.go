package cli

import (
	"os"
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
