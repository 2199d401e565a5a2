package storesqlite

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// TestConformanceGRPC runs the kit through the sdk's gRPC adapters, as the
// host sees an out-of-process plugin.
func TestConformanceGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	plugintest.TestCertStore(t, func(t *testing.T) sdk.CertStore {
		c := plugintest.ServeGRPC(t, New())
		plugintest.Configure(t, c, sdk.KindCertStore, "main",
			map[string]any{"path": filepath.Join(t.TempDir(), "certs.db"), "busy_timeout": nil})
		return c.CertStore("main")
	})
}

func TestPluginKit(t *testing.T) {
	plugintest.TestPlugin(t, New(), plugintest.PluginConfigs{
		Kind:  sdk.KindCertStore,
		Valid: json.RawMessage(`{"path":"/var/lib/pkid/certs.db","busy_timeout":"5s"}`),
		Invalid: []plugintest.InvalidConfig{
			{Name: "no path", JSON: json.RawMessage(`{"path":"","busy_timeout":null}`), Path: []string{"path"}},
			{Name: "memory database", JSON: json.RawMessage(`{"path":":memory:","busy_timeout":null}`), Path: []string{"path"}},
			{Name: "busy_timeout not a duration", JSON: json.RawMessage(`{"path":"x.db","busy_timeout":"soon"}`), Path: []string{"busy_timeout"}},
		},
	})
}
