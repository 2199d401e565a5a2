package storesqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
	"github.com/pkid/pkid/sdk/rpc"
)

func TestDocStoreConformance(t *testing.T) {
	t.Run("InProcess", func(t *testing.T) {
		plugintest.TestDocStore(t, func(t *testing.T) sdk.DocStore {
			return openTest(t, filepath.Join(t.TempDir(), "certs.db"))
		})
	})
	t.Run("GRPC", func(t *testing.T) {
		plugintest.TestDocStore(t, func(t *testing.T) sdk.DocStore {
			c := plugintest.ServeGRPC(t, New())
			plugintest.Configure(t, c, sdk.KindCertStore, "main",
				map[string]any{"path": filepath.Join(t.TempDir(), "certs.db"), "busy_timeout": nil})
			if !slices.Contains(c.Capabilities(sdk.KindCertStore, "main"), rpc.CapDocs) {
				t.Fatalf("capabilities %q lack %q", c.Capabilities(sdk.KindCertStore, "main"), rpc.CapDocs)
			}
			return c.CertStore("main").(sdk.DocStore)
		})
	})
}

// rawDocRows counts the rows of docs and docs_index, expired ones included.
func rawDocRows(t *testing.T, s *Store) (docs, index int) {
	t.Helper()
	if err := s.r.QueryRow(`SELECT (SELECT COUNT(*) FROM docs), (SELECT COUNT(*) FROM docs_index)`).Scan(&docs, &index); err != nil {
		t.Fatal(err)
	}
	return docs, index
}

// A sweep deletes expired documents with their index rows, over several
// bounded passes, and leaves live ones alone.
func TestDocSweep(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "certs.db"))
	ctx := context.Background()
	const expired = docSweepBatch*2 + 500
	past := time.Now().Add(-time.Hour)
	tx, err := s.w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range expired {
		id := fmt.Sprintf("n%05d", i)
		if _, err := tx.Exec(`INSERT INTO docs (kind, id, version, data, idx, expires_at, updated_at) VALUES ('nonce', ?, 1, x'7b7d', '["k"]', ?, 0)`, id, past.UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO docs_index (kind, key, id) VALUES ('nonce', 'k', ?)`, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
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
	if n, err := s.sweepDocs(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep: %d, %v", n, err)
	}
}

// An open store sweeps by itself, and Close stops it.
func TestDocSweeper(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "certs.db"))
	s.stopSweeper()
	s.startSweeper(20 * time.Millisecond)
	ctx := context.Background()
	if _, err := s.PutDoc(ctx, &sdk.Doc{Kind: "nonce", ID: "a", Data: json.RawMessage(`{}`), Index: []string{"k"}, ExpiresAt: time.Now().Add(50 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if docs, index := rawDocRows(t, s); docs == 0 && index == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not delete the expired document")
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.sweepDone:
	default:
		t.Fatal("Close left the sweeper running")
	}
}

// Lookups by index use docs_index's primary key, not a scan.
func TestFindDocsUsesIndex(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "certs.db"))
	rows, err := s.r.Query(`EXPLAIN QUERY PLAN SELECT `+docColumns+` FROM docs_index i JOIN docs d ON d.kind = i.kind AND d.id = i.id
		WHERE i.kind = ? AND i.key = ? AND `+live+` ORDER BY i.id LIMIT 10`, "k", "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	want := []string{"SEARCH i USING PRIMARY KEY (kind=? AND key=?)", "SEARCH d USING INDEX sqlite_autoindex_docs_1 (kind=? AND id=?)"}
	if !slices.Equal(plan, want) {
		t.Fatalf("query plan %q, want %q (no scan, no sort)", plan, want)
	}
}

// Two stores on one file (two processes on one host): SQLite's write lock
// serialises their compare-and-swap writes and deletes.
func TestDocStoreTwoHandles(t *testing.T) {
	plugintest.TestDocStoreShared(t, func(t *testing.T) (sdk.DocStore, sdk.DocStore) {
		path := filepath.Join(t.TempDir(), "certs.db")
		return openTest(t, path), openTest(t, path)
	})
}
