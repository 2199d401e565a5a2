package trustfiles_test

import (
	"path/filepath"
	"testing"
	"time"

	trustfiles "github.com/pkid/pkid/plugins/trust-files"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// TestConformanceGRPC runs the kit through the sdk's gRPC adapters, as the
// host sees the plugin out of process.
func TestConformanceGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process conformance covers the plugin; -short skips the gRPC run")
	}
	plugintest.TestTrust(t, func(t *testing.T) sdk.Trust {
		c := plugintest.ServeGRPC(t, trustfiles.New())
		cfg := newFixture(t).cfg
		for _, k := range []string{"system"} {
			cfg[k] = nil
		}
		plugintest.Configure(t, c, sdk.KindTrust, "grpc", cfg)
		return c.Trust("grpc")
	})
}

// TestWatchGRPC: a change in a watched directory reaches the host over
// the Watch stream, and the next listing has it.
func TestWatchGRPC(t *testing.T) {
	c := plugintest.ServeGRPC(t, trustfiles.New())
	f := newFixture(t)
	f.cfg["system"] = nil
	plugintest.Configure(t, c, sdk.KindTrust, "w", f.cfg)
	tr := c.Trust("w")
	ch, err := tr.Watch(t.Context())
	if err != nil || ch == nil {
		t.Fatalf("Watch: %v %v", ch, err)
	}
	intC := newCA(t, "Int C", f.rootA, true)
	write(t, filepath.Join(f.dir, "ints", "c.pem"), pemOf(intC))
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no change notification over gRPC")
	}
	if _, ok := list(t, tr)["Int C"]; !ok {
		t.Error("the new intermediate is not listed over gRPC")
	}
}
