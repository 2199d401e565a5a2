package groupcommit_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/core/groupcommit"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

func open(t testing.TB) sdk.CertStore {
	t.Helper()
	s, err := storesqlite.Open(context.Background(), storesqlite.Options{Path: filepath.Join(t.TempDir(), "pkid.db")})
	if err != nil {
		t.Fatal(err)
	}
	w := groupcommit.Wrap(s)
	t.Cleanup(func() { w.Close() })
	return w
}

// The wrapped store still passes the whole certstore kit.
func TestConformance(t *testing.T) {
	plugintest.TestCertStore(t, func(t *testing.T) sdk.CertStore { return open(t) })
}

// Concurrent Puts are committed together, and each is durable on return.
func TestBatchesForm(t *testing.T) {
	w := open(t)
	const n, workers = 800, 32
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += workers {
				if err := w.Put(context.Background(), plugintest.NewCertRecord(int64(i), "aa", "ca", time.Now().Add(time.Hour))); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	count := 0
	w.List(context.Background(), sdk.ListFilter{}, func(*sdk.CertRecord) error { count++; return nil })
	if count != n {
		t.Fatalf("%d records stored, want %d", count, n)
	}
	batches, records := w.(*groupcommit.Store).Stats()
	t.Logf("%d records in %d transactions", records, batches)
	if records != n || batches >= n/2 {
		t.Errorf("%d records in %d transactions: no batching", records, batches)
	}
	// A conflicting record fails alone.
	bad := plugintest.NewCertRecord(1, "aa", "ca", time.Now().Add(time.Hour))
	bad.DER = append([]byte{1}, bad.DER...)
	if err := w.Put(context.Background(), bad); err == nil {
		t.Error("conflicting record stored")
	}
}

// BenchmarkPut32 compares 32 concurrent writers on SQLite with one
// transaction per Put (direct) and group-committed (wrapped).
func BenchmarkPut32(b *testing.B) {
	for _, mode := range []string{"direct", "groupcommit"} {
		b.Run(mode, func(b *testing.B) {
			s, err := storesqlite.Open(context.Background(), storesqlite.Options{Path: filepath.Join(b.TempDir(), "pkid.db")})
			if err != nil {
				b.Fatal(err)
			}
			var cs sdk.CertStore = s
			if mode == "groupcommit" {
				cs = groupcommit.Wrap(s)
			}
			defer cs.Close()
			var mu sync.Mutex
			next := int64(0)
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mu.Lock()
					next++
					n := next
					mu.Unlock()
					if err := cs.Put(context.Background(), plugintest.NewCertRecord(n, "aa", "ca", time.Now().Add(time.Hour))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
