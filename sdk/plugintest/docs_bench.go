package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// BenchDocStore measures the DocStore calls on ds next to a certstore Put
// on cs, in one run so that ratios between them mean something: CertPut,
// PutDocCreate, PutDocUpdate (CAS at the stored version), GetDoc and
// DeleteDoc, each on documents of a typical ACME order's size. Pass the
// host's view (over gRPC) to measure what core features see. Each
// sub-benchmark uses fresh ids; cs and ds must be one empty store.
func BenchDocStore(b *testing.B, cs sdk.CertStore, ds sdk.DocStore) {
	ctx := context.Background()
	data := json.RawMessage(`{"status":"pending","identifiers":[{"type":"dns","value":"host.example.test"}],"expires":"2026-12-08T00:00:00Z"}`)
	na := time.Now().Add(90 * 24 * time.Hour)
	var serial int64
	b.Run("CertPut", func(b *testing.B) {
		for b.Loop() {
			serial++
			if err := cs.Put(ctx, NewCertRecord(serial, "ab12", "issuing", na)); err != nil {
				b.Fatal(err)
			}
		}
	})
	create := func(b *testing.B, prefix string, n int) {
		for i := range n {
			if _, err := ds.PutDoc(ctx, &sdk.Doc{Kind: "acme-order", ID: fmt.Sprintf("%s-%d", prefix, i), Data: data, Index: []string{"account:1"}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	var run int
	b.Run("PutDocCreate", func(b *testing.B) {
		run++
		b.ResetTimer()
		create(b, fmt.Sprintf("c%d", run), b.N)
	})
	b.Run("PutDocUpdate", func(b *testing.B) {
		run++
		id := fmt.Sprintf("u%d", run)
		create(b, id, 1)
		b.ResetTimer()
		for i := range b.N {
			if _, err := ds.PutDoc(ctx, &sdk.Doc{Kind: "acme-order", ID: id + "-0", Version: int64(i + 1), Data: data, Index: []string{"account:1"}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetDoc", func(b *testing.B) {
		run++
		id := fmt.Sprintf("g%d", run)
		create(b, id, 1)
		b.ResetTimer()
		for range b.N {
			if _, err := ds.GetDoc(ctx, "acme-order", id+"-0"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DeleteDoc", func(b *testing.B) {
		run++
		prefix := fmt.Sprintf("d%d", run)
		create(b, prefix, b.N)
		b.ResetTimer()
		for i := range b.N {
			if err := ds.DeleteDoc(ctx, "acme-order", fmt.Sprintf("%s-%d", prefix, i), 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
