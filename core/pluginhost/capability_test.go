package pluginhost_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
)

// The host's view of a keystore implements sdk.KeyImporter when the
// instance does (keystore-file), in process and out of process.
func TestFacadeKeyImporter(t *testing.T) {
	h := newHost(t)
	for _, inprocess := range []bool{false, true} {
		if _, ok := openKeyStore(t, h, inprocess).(sdk.KeyImporter); !ok {
			t.Errorf("inprocess=%v: the file keystore's view is no sdk.KeyImporter", inprocess)
		}
	}
}

// The host checks the kind of an in-process plugin once, for every plugin.
func TestOpenInProcessWrongKind(t *testing.T) {
	h := newHost(t)
	spec := builtin(t, sdk.KindKeyStore, "file")
	spec.Kind = sdk.KindCertStore
	cfg, _ := json.Marshal(map[string]any{"dir": filepath.Join(t.TempDir(), "keys"), "passphrase": "x"})
	_, err := h.Open(context.Background(), pluginhost.OpenRequest{Spec: spec, Name: "wrong", Config: cfg, InProcess: true})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("Open of a keystore plugin as a certstore: %v, want ErrInvalidArgument", err)
	}
}
