package authority

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/internal/ctlogtest"
	"github.com/pkid/pkid/sdk"
)

// TestBuildCT: a profile's ct block in the configuration reaches the
// issuers Build makes: they submit to its log and embed the SCT.
func TestBuildCT(t *testing.T) {
	ctx := context.Background()
	log := ctlogtest.NewFakeLog(ctlogtest.Honest)
	defer log.Close()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(ctx, ca.InitCARequest{Request: &csr.Request{CN: "ct root", KeyRequest: csr.DefaultKeyRequest()}, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath := filepath.Join(dir, "ca.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.DER}), 0o600)
	cfgPath := filepath.Join(dir, "pkid.hcl")
	body := fmt.Sprintf(`keystore "file" "mem" {
}
ca "issuing" {
  keystore    = keystore.mem
  key         = "ca"
  certificate = %q
  profile "server" {
    usages = ["digital signature", "server auth"]
    expiry = "90d"
    ct {
      required_scts = 1
      log %q {
        key = %q
      }
    }
  }
}
`, certPath, log.URL, base64.StdEncoding.EncodeToString(log.KeyDER))
	os.WriteFile(cfgPath, []byte(body), 0o600)
	cfg, diags := config.Load(cfgPath)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	set, diags := Build(ctx, &catalog.Loaded{Config: cfg, KeyStores: map[string]sdk.KeyStore{"mem": &memKeyStore{key: key}}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	leafKey, _ := csr.DefaultKeyRequest().Generate()
	c, err := csr.Generate(&csr.Request{CN: "leaf", Hosts: []string{"leaf.example"}, KeyRequest: csr.DefaultKeyRequest()}, leafKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := set.CAs["issuing"].Sign(ctx, ca.SignRequest{CSR: c, Profile: "server"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.SCTs) != 1 || cert.SCTs[0].LogURL != log.URL || log.Requests.Load() != 1 {
		t.Errorf("SCTs %+v, %d requests to the log", cert.SCTs, log.Requests.Load())
	}
}
