package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/daemon"
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
