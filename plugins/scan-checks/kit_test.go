package scanchecks_test

import (
	"encoding/json"
	"testing"

	scanchecks "github.com/pkid/pkid/plugins/scan-checks"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// newInstance configures the plugin from a JSON block and closes it with t.
func newInstance(t *testing.T, block string) sdk.ScanCheck {
	t.Helper()
	inst, err := scanchecks.New().Configure(t.Context(), sdk.Config{Kind: sdk.KindScanCheck, Instance: "test", JSON: json.RawMessage(block)})
	if err != nil {
		t.Fatalf("Configure(%s): %v", block, err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst.(sdk.ScanCheck)
}

func TestPluginKit(t *testing.T) {
	cfg := func(s string) json.RawMessage { return json.RawMessage(s) }
	plugintest.TestPlugin(t, scanchecks.New(), plugintest.PluginConfigs{
		Kind:  sdk.KindScanCheck,
		Valid: cfg(`{"mozilla_guidelines":"5.7","ca_file":null,"dial_timeout":"3s","fetch_revocation":false}`),
		Invalid: []plugintest.InvalidConfig{
			{Name: "guidelines 4.0", JSON: cfg(`{"mozilla_guidelines":"4.0"}`), Path: []string{"mozilla_guidelines"}},
			{Name: "guidelines path", JSON: cfg(`{"mozilla_guidelines":"../LICENSE"}`), Path: []string{"mozilla_guidelines"}},
			{Name: "missing ca_file", JSON: cfg(`{"ca_file":"/nonexistent/roots.pem"}`), Path: []string{"ca_file"}},
			{Name: "bad dial_timeout", JSON: cfg(`{"dial_timeout":"soon"}`), Path: []string{"dial_timeout"}},
			{Name: "negative dial_timeout", JSON: cfg(`{"dial_timeout":"-1s"}`), Path: []string{"dial_timeout"}},
		},
	})
}

// The scancheck kit: every check against a loopback TLS server and a
// closed port, unknown names, bad targets, a failing callback.
func TestScanCheckKit(t *testing.T) {
	plugintest.TestScanCheck(t, func(t *testing.T) sdk.ScanCheck {
		return newInstance(t, `{"dial_timeout":"3s","fetch_revocation":false}`)
	})
}

// The same kit over a real gRPC connection, as pkid sees an out-of-process
// plugin.
func TestScanCheckKitGRPC(t *testing.T) {
	plugintest.TestScanCheck(t, func(t *testing.T) sdk.ScanCheck {
		c := plugintest.ServeGRPC(t, scanchecks.New())
		plugintest.Configure(t, c, sdk.KindScanCheck, "kit", map[string]any{"dial_timeout": "3s"})
		return c.ScanCheck("kit")
	})
}
