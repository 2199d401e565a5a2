package storepostgres

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
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

// Two nodes on one database, in process (two pools) and as two plugin
// servers: CAS increments racing across them lose none, and of concurrent
// deleters of one document on both exactly one wins.
func TestDocStoreTwoNodes(t *testing.T) {
	t.Parallel()
	t.Run("InProcess", func(t *testing.T) {
		plugintest.TestDocStoreShared(t, func(t *testing.T) (sdk.DocStore, sdk.DocStore) {
			dsn := newDSN(t)
			return openDSN(t, dsn), openDSN(t, dsn)
		})
	})
	t.Run("GRPC", func(t *testing.T) {
		plugintest.TestDocStoreShared(t, func(t *testing.T) (sdk.DocStore, sdk.DocStore) {
			dsn := newDSN(t)
			return serveDocs(t, dsn), serveDocs(t, dsn)
		})
	})
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
