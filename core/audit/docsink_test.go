package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/pgtest"
	storepostgres "github.com/pkid/pkid/plugins/store-postgres"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
	"github.com/pkid/pkid/sdk"
)

// memDocs is an in-memory sdk.DocStore with the contract's
// compare-and-swap semantics, and hooks to fail writes.
type memDocs struct {
	mu   sync.Mutex
	docs map[string]*sdk.Doc
	// failPut, when set, is asked before each PutDoc; a non-nil error
	// fails it.
	failPut func(*sdk.Doc) error
}

func newMemDocs() *memDocs { return &memDocs{docs: map[string]*sdk.Doc{}} }

func (m *memDocs) PutDoc(_ context.Context, d *sdk.Doc) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failPut != nil {
		if err := m.failPut(d); err != nil {
			return 0, err
		}
	}
	k := d.Kind + "\x00" + d.ID
	cur := m.docs[k]
	switch {
	case d.Version == 0 && cur != nil:
		return 0, sdk.ErrAlreadyExists
	case d.Version != 0 && cur == nil:
		return 0, sdk.ErrNotFound
	case d.Version != 0 && cur.Version != d.Version:
		return 0, sdk.ErrFailedPrecondition
	}
	c := *d
	c.Data = slices.Clone(d.Data)
	c.Version = d.Version + 1
	c.UpdatedAt = time.Now()
	m.docs[k] = &c
	return c.Version, nil
}

func (m *memDocs) GetDoc(_ context.Context, kind, id string) (*sdk.Doc, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.docs[kind+"\x00"+id]
	if d == nil {
		return nil, sdk.ErrNotFound
	}
	c := *d
	return &c, nil
}

func (m *memDocs) DeleteDoc(_ context.Context, kind, id string, version int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := kind + "\x00" + id
	d := m.docs[k]
	if d == nil {
		return sdk.ErrNotFound
	}
	if version != 0 && d.Version != version {
		return sdk.ErrFailedPrecondition
	}
	delete(m.docs, k)
	return nil
}

func (m *memDocs) FindDocs(ctx context.Context, kind, key string, limit int, fn func(*sdk.Doc) error) error {
	m.mu.Lock()
	var out []*sdk.Doc
	for _, d := range m.docs {
		if d.Kind == kind && slices.Contains(d.Index, key) {
			c := *d
			out = append(out, &c)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b *sdk.Doc) int { return strings.Compare(a.ID, b.ID) })
	for i, d := range out {
		if limit > 0 && i >= limit {
			break
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// edit rewrites the line of record seq with f.
func (m *memDocs) edit(t *testing.T, chain string, seq uint64, f func(string) string) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.docs[DocKindRecord+"\x00"+recordID(chain, seq)]
	if d == nil {
		t.Fatalf("no record %d", seq)
	}
	var dl docLine
	_ = json.Unmarshal(d.Data, &dl)
	dl.Line = f(dl.Line)
	d.Data, _ = json.Marshal(dl)
}

func (m *memDocs) line(chain string, seq uint64) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var dl docLine
	_ = json.Unmarshal(m.docs[DocKindRecord+"\x00"+recordID(chain, seq)].Data, &dl)
	return dl.Line
}

func (m *memDocs) drop(chain string, seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.docs, DocKindRecord+"\x00"+recordID(chain, seq))
}

func verifyDocs(t *testing.T, ds sdk.DocStore, key ed25519.PublicKey) *Report {
	t.Helper()
	rep, err := VerifyDocs(context.Background(), ds, "", VerifyOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestDocLogNodes: several nodes (DocLog instances, each with its own
// handle on one store) append and checkpoint concurrently, each from two
// goroutines; the chain has every record once, in one unbroken sequence,
// and verifies. In memory, and on the real stores of several nodes.
func TestDocLogNodes(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		ds := newMemDocs()
		testNodes(t, []sdk.DocStore{ds, ds, ds, ds})
	})
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "pkid.db")
		var stores []sdk.DocStore
		for range 2 {
			st, err := storesqlite.Open(context.Background(), storesqlite.Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			stores = append(stores, st)
		}
		testNodes(t, stores)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.New(t).NewDatabase(t)
		var stores []sdk.DocStore
		for range 3 {
			st, err := storepostgres.Open(context.Background(), storepostgres.Options{DSN: dsn})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			stores = append(stores, st)
		}
		testNodes(t, stores)
	})
}

func testNodes(t *testing.T, stores []sdk.DocStore) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	const each = 30
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(stores)*each)
	for n, ds := range stores {
		l, err := OpenDocs(ds, "", Options{CheckpointKey: priv})
		if err != nil {
			t.Fatal(err)
		}
		for half := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := half; i < each; i += 2 {
					if err := l.Append(context.Background(), KindIssuance, issued{Serial: fmt.Sprintf("%d-%d", n, i), CA: "issuing"}); err != nil {
						errs <- err
					}
					if i%10 == 9 {
						if err := l.Checkpoint(context.Background()); err != nil {
							errs <- err
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ds := stores[0]
	l, _ := OpenDocs(ds, "", Options{CheckpointKey: priv})
	if err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := verifyDocs(t, ds, pub)
	if rep.Tampered() || rep.Tail != 0 || rep.Checkpoints == 0 || rep.Records-rep.Checkpoints != int64(len(stores)*each) {
		t.Fatalf("report %+v", rep)
	}
	// Every node's records are there once.
	seen := map[string]bool{}
	err := ds.FindDocs(context.Background(), DocKindRecord, "chain:"+DefaultChain, 0, func(d *sdk.Doc) error {
		var dl docLine
		_ = json.Unmarshal(d.Data, &dl)
		r, _, _ := ParseLine([]byte(dl.Line))
		var is issued
		if r.Kind == KindIssuance && json.Unmarshal(r.Data, &is) == nil {
			if seen[is.Serial] {
				t.Errorf("record %s twice", is.Serial)
			}
			seen[is.Serial] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(stores)*each {
		t.Errorf("%d distinct records, want %d", len(seen), len(stores)*each)
	}
}

// TestDocLogTamper: edits, deletions, reordering, a rewritten chain and
// deleted last records are each found and located.
func TestDocLogTamper(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	build := func(t *testing.T) *memDocs {
		ds := newMemDocs()
		l, _ := OpenDocs(ds, "", Options{CheckpointKey: priv})
		for i := 1; i <= 12; i++ {
			if err := l.Append(context.Background(), KindIssuance, issued{Serial: fmt.Sprint(i), CA: "issuing"}); err != nil {
				t.Fatal(err)
			}
			if i%4 == 0 {
				if err := l.Checkpoint(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		}
		return ds // 15 records: checkpoints at seq 5, 10, 15
	}
	if rep := verifyDocs(t, build(t), pub); rep.Tampered() || rep.Records != 15 || rep.VerifiedThrough != 15 {
		t.Fatalf("intact chain: %+v", rep)
	}
	for _, tc := range []struct {
		name   string
		tamper func(*memDocs)
		kind   string
		seq    uint64
	}{
		{"edit", func(ds *memDocs) {
			ds.edit(t, DefaultChain, 3, func(s string) string { return strings.Replace(s, `"serial":"3"`, `"serial":"9"`, 1) })
		}, ProblemEdited, 3},
		{"delete", func(ds *memDocs) { ds.drop(DefaultChain, 7) }, ProblemDeleted, 8},
		{"reorder", func(ds *memDocs) {
			a, b := ds.line(DefaultChain, 2), ds.line(DefaultChain, 3)
			ds.edit(t, DefaultChain, 2, func(string) string { return b })
			ds.edit(t, DefaultChain, 3, func(string) string { return a })
		}, ProblemReordered, 2},
		{"rewrite after edit", func(ds *memDocs) {
			// Edit seq 6 and recompute every hash after it, as whoever
			// can write the store but lacks the key would.
			prev := ""
			for seq := uint64(6); seq <= 15; seq++ {
				r, _, _ := ParseLine([]byte(ds.line(DefaultChain, seq)))
				if seq == 6 {
					r.Data = json.RawMessage(`{"serial":"forged","ca":"issuing"}`)
				} else {
					r.Prev = prev
				}
				line, _ := r.encode()
				prev = r.Hash
				ds.edit(t, DefaultChain, seq, func(string) string { return string(line) })
			}
		}, ProblemSignature, 10},
		{"delete the last records", func(ds *memDocs) { ds.drop(DefaultChain, 15); ds.drop(DefaultChain, 14) }, ProblemDeleted, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := build(t)
			tc.tamper(ds)
			rep := verifyDocs(t, ds, pub)
			if !rep.Tampered() {
				t.Fatalf("not found: %+v", rep)
			}
			found := false
			for _, p := range rep.Problems {
				found = found || p.Kind == tc.kind && p.Seq == tc.seq
			}
			if !found {
				t.Errorf("problems %v, want %s at seq %d", rep.Problems, tc.kind, tc.seq)
			}
		})
	}
}

// TestDocLogCrashBetweenRecordAndHead: a node that wrote a record but died
// before moving the head leaves the chain extendable: the next append
// checks that record and continues after it.
func TestDocLogCrashBetweenRecordAndHead(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	ds := newMemDocs()
	l, _ := OpenDocs(ds, "", Options{CheckpointKey: priv})
	ctx := context.Background()
	for i := range 3 {
		if err := l.Append(ctx, KindIssuance, issued{Serial: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ds.failPut = func(d *sdk.Doc) error {
		if d.Kind == DocKindHead {
			return sdk.ErrUnavailable // the node dies here
		}
		return nil
	}
	if err := l.Append(ctx, KindIssuance, issued{Serial: "3"}); err != nil {
		t.Fatal(err) // the record is durable; the head is a hint
	}
	ds.failPut = nil
	other, _ := OpenDocs(ds, "", Options{CheckpointKey: priv})
	if err := other.Append(ctx, KindIssuance, issued{Serial: "4"}); err != nil {
		t.Fatal(err)
	}
	if err := other.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep := verifyDocs(t, ds, pub)
	if rep.Tampered() || rep.Records != 6 || rep.VerifiedThrough != 6 {
		t.Fatalf("%+v", rep)
	}
}

// TestDocLogFailsClosed: an unreachable store or a damaged chain refuses
// the append (the daemon then refuses the operation).
func TestDocLogFailsClosed(t *testing.T) {
	ds := newMemDocs()
	l, _ := OpenDocs(ds, "", Options{})
	ctx := context.Background()
	if err := l.Append(ctx, KindIssuance, issued{Serial: "1"}); err != nil {
		t.Fatal(err)
	}
	ds.failPut = func(*sdk.Doc) error { return sdk.ErrUnavailable }
	if err := l.Append(ctx, KindIssuance, issued{Serial: "2"}); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("store down: %v", err)
	}
	ds.failPut = nil
	// A record after the head that does not follow it: never extend.
	ds.mu.Lock()
	body, _ := json.Marshal(docLine{Line: `{"seq":2}`})
	ds.docs[DocKindRecord+"\x00"+recordID(DefaultChain, 2)] = &sdk.Doc{Kind: DocKindRecord, ID: recordID(DefaultChain, 2), Version: 1, Data: body, Index: []string{"chain:" + DefaultChain}}
	ds.mu.Unlock()
	if err := l.Append(ctx, KindIssuance, issued{Serial: "3"}); err == nil || !strings.Contains(err.Error(), "does not follow its head") {
		t.Errorf("damaged chain: %v", err)
	}
	ds.mu.Lock()
	ds.docs[DocKindHead+"\x00"+DefaultChain].Data = json.RawMessage(`{"seq":"x"}`)
	ds.mu.Unlock()
	if err := l.Append(ctx, KindIssuance, issued{Serial: "3"}); err == nil || !strings.Contains(err.Error(), "head of chain pkid is damaged") {
		t.Errorf("damaged head: %v", err)
	}
	if _, err := OpenDocs(ds, "bad chain!", Options{}); err == nil {
		t.Error("a chain name with a space and '!' accepted")
	}
}
