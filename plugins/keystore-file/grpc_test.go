package keystorefile_test

import (
	"path/filepath"
	"testing"

	keystorefile "github.com/pkid/pkid/plugins/keystore-file"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// TestConformanceGRPC runs the kit through the sdk's gRPC adapters, as the
// host sees an out-of-process plugin: errors must survive as sentinels and
// public keys as Go types.
func TestConformanceGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process conformance covers the plugin; -short skips the gRPC run")
	}
	plugintest.TestKeyStore(t, func(t *testing.T) sdk.KeyStore {
		c := plugintest.ServeGRPC(t, keystorefile.New())
		plugintest.Configure(t, c, sdk.KindKeyStore, "grpc", map[string]any{
			"dir": filepath.Join(t.TempDir(), "keys"), "passphrase": testPassphrase,
			"passphrase_file": nil, "kdf_work_factor": 10,
		})
		return c.KeyStore("grpc")
	})
}
