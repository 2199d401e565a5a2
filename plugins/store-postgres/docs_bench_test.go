package storepostgres

import (
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// BenchmarkDocsGRPC measures the DocStore calls as the host makes them
// (over gRPC), next to a certstore Put in the same run for the ratio.
func BenchmarkDocsGRPC(b *testing.B) {
	c := plugintest.ServeGRPC(b, New())
	plugintest.Configure(b, c, sdk.KindCertStore, "main", map[string]any{"dsn": newDSN(b), "max_conns": nil, "connect_timeout": nil})
	cs := c.CertStore("main")
	ds, err := sdk.DocStoreOf(cs)
	if err != nil {
		b.Fatal(err)
	}
	plugintest.BenchDocStore(b, cs, ds)
}
