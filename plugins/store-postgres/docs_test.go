package storepostgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
	"github.com/pkid/pkid/sdk/rpc"
)

// serveDocs configures store-postgres on dsn behind the sdk's gRPC adapters
// (a plugin process of its own, with its own pool) and returns the host's
// view of it.
func serveDocs(t *testing.T, dsn string) sdk.DocStore {
	c := plugintest.ServeGRPC(t, New())
	plugintest.Configure(t, c, sdk.KindCertStore, "main", map[string]any{"dsn": dsn, "max_conns": nil, "connect_timeout": nil})
	if caps := c.Capabilities(sdk.KindCertStore, "main"); !slices.Contains(caps, rpc.CapDocs) || !slices.Contains(caps, rpc.CapLease) {
		t.Fatalf("capabilities %q, want %q and %q", caps, rpc.CapLease, rpc.CapDocs)
	}
	ds, err := sdk.DocStoreOf(c.CertStore("main"))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestDocStoreConformance(t *testing.T) {
	t.Parallel()
	t.Run("InProcess", func(t *testing.T) {
		plugintest.TestDocStore(t, func(t *testing.T) sdk.DocStore { return openTest(t) })
	})
	t.Run("GRPC", func(t *testing.T) {
		plugintest.TestDocStore(t, func(t *testing.T) sdk.DocStore { return serveDocs(t, newDSN(t)) })
	})
}

// Two nodes (two plugin instances with their own pools) on one database:
// CAS increments racing across them lose none, and of concurrent deleters
// of one document on both nodes exactly one wins.
func TestDocStoreTwoNodes(t *testing.T) {
	t.Parallel()
	dsn := newDSN(t)
	nodes := []sdk.DocStore{serveDocs(t, dsn), serveDocs(t, dsn)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const workers, each = 4, 15 // per node
	if _, err := nodes[0].PutDoc(ctx, &sdk.Doc{Kind: "counter", ID: "c", Data: json.RawMessage(`{"n":0}`)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 2*workers)
	for n, node := range nodes {
		for w := range workers {
			wg.Go(func() {
				for range each {
					for {
						d, err := node.GetDoc(ctx, "counter", "c")
						if err != nil {
							errc <- err
							return
						}
						var v struct{ N int }
						if err := json.Unmarshal(d.Data, &v); err != nil {
							errc <- err
							return
						}
						d.Data = json.RawMessage(fmt.Sprintf(`{"n":%d}`, v.N+1))
						if _, err = node.PutDoc(ctx, d); err == nil {
							break
						}
						if !errors.Is(err, sdk.ErrFailedPrecondition) {
							errc <- fmt.Errorf("node %d worker %d: %w", n, w, err)
							return
						}
					}
				}
			})
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for n, node := range nodes {
		d, err := node.GetDoc(ctx, "counter", "c")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"n":%d}`, 2*workers*each); string(d.Data) != want || d.Version != 2*workers*each+1 {
			t.Fatalf("node %d sees %s at version %d, want %s at %d", n, d.Data, d.Version, want, 2*workers*each+1)
		}
	}

	const rounds, deleters = 10, 4 // per node
	for r := range rounds {
		id := fmt.Sprintf("nonce-%d", r)
		if _, err := nodes[r%2].PutDoc(ctx, &sdk.Doc{Kind: "nonce", ID: id, Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		errs := make([]error, 2*deleters)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				<-start
				errs[i] = nodes[i%2].DeleteDoc(ctx, "nonce", id, int64(i/2%2))
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, sdk.ErrNotFound):
				t.Fatalf("round %d deleter %d: %v", r, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d deletes succeeded across two nodes, want exactly 1", r, won)
		}
	}
}

// rawDocRows counts the rows of docs and docs_index, expired ones included.
func rawDocRows(t *testing.T, s *Store) (docs, index int) {
	t.Helper()
	if err := s.pool.QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM docs), (SELECT COUNT(*) FROM docs_index)`).Scan(&docs, &index); err != nil {
		t.Fatal(err)
	}
	return docs, index
}

// A sweep deletes expired documents with their index rows, over several
// bounded passes, and leaves live ones alone; an open store sweeps by
// itself until Close.
func TestDocSweep(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	const expired = docSweepBatch*2 + 500
	if _, err := s.pool.Exec(ctx, `INSERT INTO docs (kind, id, version, data, idx, expires_at, updated_at)
		SELECT 'nonce', 'n' || g, 1, '{}', '{k}', now() - interval '1 hour', now() FROM generate_series(1, $1) g`, expired); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO docs_index (kind, key, id) SELECT 'nonce', 'k', id FROM docs`); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*sdk.Doc{
		{Kind: "nonce", ID: "live", Data: json.RawMessage(`{}`), Index: []string{"k"}, ExpiresAt: time.Now().Add(time.Hour)},
		{Kind: "nonce", ID: "forever", Data: json.RawMessage(`{}`), Index: []string{"k"}},
	} {
		if _, err := s.PutDoc(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.sweepDocs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != expired {
		t.Fatalf("sweep deleted %d documents, want %d", n, expired)
	}
	if docs, index := rawDocRows(t, s); docs != 2 || index != 2 {
		t.Fatalf("after the sweep: %d docs, %d index rows; want the 2 live ones", docs, index)
	}

	s.stopSweeper()
	s.startSweeper(20 * time.Millisecond)
	if _, err := s.PutDoc(ctx, &sdk.Doc{Kind: "nonce", ID: "soon", Data: json.RawMessage(`{}`), Index: []string{"k"}, ExpiresAt: time.Now().Add(50 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if docs, _ := rawDocRows(t, s); docs == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not delete the expired document")
		}
	}
	s.Close()
	select {
	case <-s.sweepDone:
	default:
		t.Fatal("Close left the sweeper running")
	}
}

// Lookups by index use docs_index's primary key and need no sort.
func TestFindDocsUsesIndex(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	// Enough rows that the planner prefers the indexes to scans.
	if _, err := s.pool.Exec(ctx, `INSERT INTO docs (kind, id, version, data, updated_at)
		SELECT 'k' || (g % 50), 'id' || g, 1, '{}', now() FROM generate_series(1, 20000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO docs_index (kind, key, id) SELECT kind, 'key' || (length(id) % 7), id FROM docs`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE docs; ANALYZE docs_index`); err != nil {
		t.Fatal(err)
	}
	rows, err := s.pool.Query(ctx, `EXPLAIN (FORMAT TEXT) SELECT `+docColumns+` FROM docs_index i JOIN docs d ON d.kind = i.kind AND d.id = i.id
		WHERE i.kind = 'k1' AND i.key = 'key3' AND (d.expires_at IS NULL OR d.expires_at > now()) ORDER BY i.id LIMIT 10`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if !strings.Contains(plan, "docs_index_pkey") || strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Sort") {
		t.Fatalf("plan:\n%s", plan)
	}
}
