package storesqlite

import (
	"path/filepath"
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// BenchmarkDocsGRPC measures the DocStore calls as the host makes them
// (over gRPC), next to a certstore Put in the same run for the ratio:
// a write (PutDoc, DeleteDoc) commits and fsyncs like Put.
func BenchmarkDocsGRPC(b *testing.B) {
	c := plugintest.ServeGRPC(b, New())
	plugintest.Configure(b, c, sdk.KindCertStore, "main",
		map[string]any{"path": filepath.Join(b.TempDir(), "certs.db"), "busy_timeout": nil})
	cs := c.CertStore("main")
	ds, err := sdk.DocStoreOf(cs)
	if err != nil {
		b.Fatal(err)
	}
	plugintest.BenchDocStore(b, cs, ds)
}
