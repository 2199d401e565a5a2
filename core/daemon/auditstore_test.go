package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/sdk"
)

// An audit_certstore that names no certstore block is refused at start,
// at the attribute.
func TestAuditCertStoreUnknown(t *testing.T) {
	key := filepath.Join(t.TempDir(), "checkpoint.key")
	loaded := devConfig(t, fmt.Sprintf("  audit_certstore = \"nope\"\n  audit_checkpoint_key = %q\n", key))
	_, err := daemon.New(context.Background(), loaded, daemon.Options{Listen: "127.0.0.1:0"})
	var de *daemon.DiagnosticsError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), `audit_certstore names "nope"`) || de.Diags[0].Subject == nil || de.Diags[0].Subject.Start.Line != 3 {
		t.Fatalf("%v", err)
	}
}

// plainStore is a certstore without documents (like store-cfssl).
type plainStore struct{ sdk.CertStore }

// An audit_certstore whose store keeps no documents is refused at start,
// at the attribute, before anything is built.
func TestAuditCertStoreWithoutDocuments(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pkid.hcl")
	body := fmt.Sprintf("pkid {\n  listen = \"127.0.0.1:0\"\n  audit_certstore = \"legacy\"\n  audit_checkpoint_key = %q\n}\n", filepath.Join(dir, "k"))
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, err := daemon.New(context.Background(), &catalog.Loaded{Config: cfg, CertStores: map[string]sdk.CertStore{"legacy": plainStore{}}}, daemon.Options{})
	var de *daemon.DiagnosticsError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "Certstore keeps no documents") || de.Diags[0].Subject == nil || de.Diags[0].Subject.Start.Line != 3 {
		t.Fatalf("%v", err)
	}
}
