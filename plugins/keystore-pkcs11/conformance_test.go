//go:build cgo && !nopkcs11

package keystorepkcs11_test

import (
	"testing"

	keystorepkcs11 "github.com/pkid/pkid/plugins/keystore-pkcs11"
	"github.com/pkid/pkid/plugins/keystore-pkcs11/internal/softhsmtest"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// TestConformance runs the keystore kit in process against a fresh SoftHSM
// token per store. Instances are no sdk.KeyImporter, so the import subtests
// skip.
func TestConformance(t *testing.T) {
	plugintest.TestKeyStore(t, func(t *testing.T) sdk.KeyStore {
		ks, _ := newStore(t)
		return ks
	})
}

// TestConformanceGRPC runs the kit through the sdk's gRPC adapters, as the
// host sees the out-of-process plugin.
func TestConformanceGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process conformance covers the plugin; -short skips the gRPC run")
	}
	plugintest.TestKeyStore(t, func(t *testing.T) sdk.KeyStore {
		tok := softhsmtest.New(t, testLabel)
		c := plugintest.ServeGRPC(t, keystorepkcs11.New())
		plugintest.Configure(t, c, sdk.KindKeyStore, "grpc", baseConfig(tok))
		return c.KeyStore("grpc")
	})
}
