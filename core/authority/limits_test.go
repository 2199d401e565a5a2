package authority

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/sdk"
)

// memKeyStore holds one key in memory: what Build needs of a keystore.
type memKeyStore struct {
	sdk.KeyStore
	key crypto.Signer
}

func (m *memKeyStore) PublicKey(context.Context, string) (*sdk.KeyInfo, error) {
	return &sdk.KeyInfo{ID: "ca", PublicKey: m.key.Public()}, nil
}

func (m *memKeyStore) Sign(_ context.Context, r sdk.SignRequest) ([]byte, error) {
	return m.key.(*ecdsa.PrivateKey).Sign(rand.Reader, r.Digest, r.Hash)
}

// The pkid block's limits reach the issuers Build makes (the daemon's and
// the CLI's): a limits block lowers them, its absence means the defaults.
func TestBuildAppliesLimits(t *testing.T) {
	ctx := context.Background()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(ctx, ca.InitCARequest{Request: &csr.Request{CN: "limits root", KeyRequest: csr.DefaultKeyRequest()}, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.DER}), 0o600); err != nil {
		t.Fatal(err)
	}
	hosts := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("h%d.example.com", i))
		}
		return out
	}
	for _, tc := range []struct {
		limits string
		hosts  int
		want   string
	}{
		{"pkid {\n  limits {\n    max_sans = 2\n  }\n}\n", 2, ""},
		{"pkid {\n  limits {\n    max_sans = 2\n  }\n}\n", 3, "certificate has 3 names; the limit is 2 (limits.max_sans)"},
		{"", 1000, ""},
		{"", 1001, "certificate has 1001 names; the limit is 1000 (limits.max_sans)"},
	} {
		cfgPath := filepath.Join(dir, "pkid.hcl")
		body := tc.limits + fmt.Sprintf("keystore \"file\" \"mem\" {\n}\nca \"issuing\" {\n  keystore = keystore.mem\n  key = \"ca\"\n  certificate = %q\n  profile \"server\" {\n    usages = [\"digital signature\", \"server auth\"]\n    expiry = \"90d\"\n  }\n}\n", certPath)
		if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, diags := config.Load(cfgPath)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		set, diags := Build(ctx, &catalog.Loaded{Config: cfg, KeyStores: map[string]sdk.KeyStore{"mem": &memKeyStore{key: key}}})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		leafKey, _ := csr.DefaultKeyRequest().Generate()
		c, err := csr.Generate(&csr.Request{CN: "leaf", KeyRequest: csr.DefaultKeyRequest()}, leafKey)
		if err != nil {
			t.Fatal(err)
		}
		_, err = set.CAs["issuing"].Sign(ctx, ca.SignRequest{CSR: c, Profile: "server", Hosts: hosts(tc.hosts)})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q, %d hosts: %v", tc.limits, tc.hosts, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q, %d hosts: err = %v; want %q", tc.limits, tc.hosts, err, tc.want)
		}
	}
}
