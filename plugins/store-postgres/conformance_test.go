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

// TestLeaserKit runs the lease kit in process and through the gRPC
// adapters (two plugin processes' worth of instances on one database).
func TestLeaserKit(t *testing.T) {
	t.Run("InProcess", func(t *testing.T) {
		plugintest.TestLeaser(t, func(t *testing.T) (sdk.CertStore, sdk.CertStore) {
			dsn := newDSN(t)
			return openDSN(t, dsn), openDSN(t, dsn)
		})
	})
	t.Run("GRPC", func(t *testing.T) {
		plugintest.TestLeaser(t, func(t *testing.T) (sdk.CertStore, sdk.CertStore) {
			dsn := newDSN(t)
			var out [2]sdk.CertStore
			for i := range out {
				c := plugintest.ServeGRPC(t, New())
				plugintest.Configure(t, c, sdk.KindCertStore, "main",
					map[string]any{"dsn": dsn, "max_conns": nil, "connect_timeout": nil})
				out[i] = c.CertStore("main")
			}
			return out[0], out[1]
		})
	})
}
