// Package plugintest holds the conformance kits plugins pass: TestKeyStore,
// TestCertStore, TestLeaser, TestDocStore (and TestDocStoreShared for
// stores that nodes share), TestTrust and TestScanCheck, each runnable in
// process and over gRPC (hand the kit the view ServeGRPC's client returns
// for a configured instance: KeyStore, CertStore, Trust, ScanCheck),
// TestPlugin (schema, ValidateConfig, Configure diagnostics), helpers
// to run a plugin over a real gRPC connection inside a test, and
// NewMemDocStore, the reference sdk.DocStore core features test against.
package plugintest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hashicorp/go-plugin"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// ServeGRPC serves p over a real gRPC connection within the test process and
// returns the host-side client, as pkid would see the plugin. Calls go
// through the same adapters (instance multiplexing, batched streams) as an
// out-of-process plugin.
func ServeGRPC(t testing.TB, p sdk.Plugin) *rpc.Client {
	t.Helper()
	c, s := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{rpc.PluginName: &rpc.GRPCPlugin{Impl: p}})
	raw, err := c.Dispense(rpc.PluginName)
	if err != nil {
		t.Fatalf("dispense: %v", err)
	}
	client := raw.(*rpc.Client)
	t.Cleanup(func() {
		client.Close()
		// Closing the go-plugin client shuts the server down through its
		// controller; stopping it again here races inside go-plugin.
		c.Close()
		_ = s
	})
	return client
}

// Configure configures instance name of kind on c with cfg (marshaled to
// JSON) and fails the test on error.
func Configure(t testing.TB, c *rpc.Client, kind, name string, cfg any) {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Configure(context.Background(), sdk.Config{Kind: kind, Instance: name, JSON: js}); err != nil {
		t.Fatalf("configure %s %q: %v", kind, name, err)
	}
	t.Cleanup(func() { _ = c.CloseInstance(context.Background(), kind, name) })
}
