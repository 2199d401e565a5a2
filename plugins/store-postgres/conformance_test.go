package storepostgres

import (
	"context"
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	plugintest.TestCertStore(t, func(t *testing.T) sdk.CertStore { return openTest(t) })
}

// TestConformanceViaPlugin runs the kit on instances made by Configure.
func TestConformanceViaPlugin(t *testing.T) {
	t.Parallel()
	p := New()
	plugintest.TestCertStore(t, func(t *testing.T) sdk.CertStore {
		inst, err := p.Configure(context.Background(), certstoreConfig(t, newDSN(t), nil))
		if err != nil {
			t.Fatalf("Configure: %v", err)
		}
		t.Cleanup(func() { inst.Close() })
		cs, ok := inst.(sdk.CertStore)
		if !ok {
			t.Fatalf("instance %T is not a CertStore", inst)
		}
		if _, ok := inst.(sdk.BatchPutter); !ok {
			t.Fatalf("instance %T is not a BatchPutter", inst)
		}
		return cs
	})
}

// TestConformanceGRPC runs the kit through the sdk's gRPC adapters, as the
// host sees an out-of-process plugin.
func TestConformanceGRPC(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short")
	}
	plugintest.TestCertStore(t, func(t *testing.T) sdk.CertStore {
		c := plugintest.ServeGRPC(t, New())
		plugintest.Configure(t, c, sdk.KindCertStore, "main",
			map[string]any{"dsn": newDSN(t), "max_conns": nil, "connect_timeout": nil})
		return c.CertStore("main")
	})
}
