package plugintest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// TestDocStore runs the sdk.DocStore conformance suite. newStore must
// return a fresh, empty store for each subtest and arrange its cleanup; the
// kit does not Close it. Run it in process and over gRPC (the host's view
// that ServeGRPC's client returns for a certstore implementing DocStore).
func TestDocStore(t *testing.T, newStore func(t *testing.T) sdk.DocStore) {
	t.Run("CreateGet", func(t *testing.T) { docsCreateGet(t, newStore(t)) })
	t.Run("CreateExists", func(t *testing.T) { docsCreateExists(t, newStore(t)) })
	t.Run("UpdateCAS", func(t *testing.T) { docsUpdateCAS(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { docsDelete(t, newStore(t)) })
	t.Run("DeleteExactlyOnce", func(t *testing.T) { docsDeleteOnce(t, newStore(t)) })
	t.Run("Find", func(t *testing.T) { docsFind(t, newStore(t)) })
	t.Run("FindStopsOnError", func(t *testing.T) { docsFindStop(t, newStore(t)) })
	t.Run("Expiry", func(t *testing.T) { docsExpiry(t, newStore(t)) })
	t.Run("Limits", func(t *testing.T) { docsLimits(t, newStore(t)) })
	t.Run("ConcurrentCAS", func(t *testing.T) { docsConcurrentCAS(t, newStore(t)) })
	t.Run("ContextCanceled", func(t *testing.T) { docsCanceled(t, newStore(t)) })
}

// TestDocStoreShared checks sdk.DocStore on two instances that share one
// backend (two nodes on one database): a document one writes the other
// reads, compare-and-swap increments racing on both lose none, and of
// deleters of one document racing on both exactly one succeeds. newPair
// returns the two instances on a fresh, empty backend.
func TestDocStoreShared(t *testing.T, newPair func(t *testing.T) (a, b sdk.DocStore)) {
	t.Run("SeeEachOther", func(t *testing.T) {
		a, b := newPair(t)
		ctx := docsCtx(t)
		doc := &sdk.Doc{Kind: "acme-account", ID: "x", Data: json.RawMessage(`{"v":1}`), Index: []string{"jwk:T"}}
		docsPut(t, ctx, a, doc, 1)
		docsCompare(t, docsGet(t, ctx, b, "acme-account", "x"), doc, 1)
		_, err := b.PutDoc(ctx, doc)
		docsWantErr(t, "create on the other node", err, sdk.ErrAlreadyExists)
		up := &sdk.Doc{Kind: "acme-account", ID: "x", Version: 1, Data: json.RawMessage(`{"v":2}`), Index: []string{"jwk:T"}}
		docsPut(t, ctx, b, up, 2)
		if ids := docsFindIDs(t, ctx, a, "acme-account", "jwk:T", 0); !slices.Equal(ids, []string{"x"}) {
			t.Fatalf("FindDocs on the first node: %q", ids)
		}
		_, err = a.PutDoc(ctx, &sdk.Doc{Kind: "acme-account", ID: "x", Version: 1, Data: json.RawMessage(`{"v":3}`)})
		docsWantErr(t, "stale update on the first node", err, sdk.ErrFailedPrecondition)
		if err := a.DeleteDoc(ctx, "acme-account", "x", 2); err != nil {
			t.Fatal(err)
		}
		_, err = b.GetDoc(ctx, "acme-account", "x")
		docsWantErr(t, "GetDoc on the other node after a delete", err, sdk.ErrNotFound)
	})
	t.Run("RaceCAS", func(t *testing.T) {
		a, b := newPair(t)
		docsRaceCAS(t, []sdk.DocStore{a, b}, 4, 10)
	})
	t.Run("RaceDelete", func(t *testing.T) {
		a, b := newPair(t)
		docsRaceDelete(t, []sdk.DocStore{a, b}, 4)
	})
}

func docsCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// docsPut stores doc and checks the version it gets.
func docsPut(t *testing.T, ctx context.Context, s sdk.DocStore, doc *sdk.Doc, want int64) {
	t.Helper()
	v, err := s.PutDoc(ctx, doc)
	if err != nil {
		t.Fatalf("PutDoc %s/%q version %d: %v", doc.Kind, doc.ID, doc.Version, err)
	}
	if v != want {
		t.Fatalf("PutDoc %s/%q version %d: got version %d, want %d", doc.Kind, doc.ID, doc.Version, v, want)
	}
}

func docsGet(t *testing.T, ctx context.Context, s sdk.DocStore, kind, id string) *sdk.Doc {
	t.Helper()
	d, err := s.GetDoc(ctx, kind, id)
	if err != nil {
		t.Fatalf("GetDoc %s/%q: %v", kind, id, err)
	}
	return d
}

func docsWantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

// docsCompare checks that got holds what was put (want) at version v.
func docsCompare(t *testing.T, got, want *sdk.Doc, v int64) {
	t.Helper()
	idx := slices.Clone(want.Index)
	slices.Sort(idx)
	switch {
	case got.Kind != want.Kind || got.ID != want.ID:
		t.Fatalf("got %s/%q, want %s/%q", got.Kind, got.ID, want.Kind, want.ID)
	case got.Version != v:
		t.Fatalf("%s/%q: version %d, want %d", got.Kind, got.ID, got.Version, v)
	case !bytes.Equal(got.Data, want.Data):
		t.Fatalf("%s/%q: data %s, want %s", got.Kind, got.ID, got.Data, want.Data)
	case !slices.Equal(got.Index, idx) && !(len(got.Index) == 0 && len(idx) == 0):
		t.Fatalf("%s/%q: index %q, want %q (sorted)", got.Kind, got.ID, got.Index, idx)
	case !got.ExpiresAt.Equal(want.ExpiresAt.Truncate(time.Millisecond)):
		t.Fatalf("%s/%q: expires %v, want %v", got.Kind, got.ID, got.ExpiresAt, want.ExpiresAt)
	case got.UpdatedAt.IsZero():
		t.Fatalf("%s/%q: no UpdatedAt", got.Kind, got.ID)
	}
}

// docsFindIDs returns the IDs FindDocs passes to fn, checking each is live
// and carries key.
func docsFindIDs(t *testing.T, ctx context.Context, s sdk.DocStore, kind, key string, limit int) []string {
	t.Helper()
	var ids []string
	err := s.FindDocs(ctx, kind, key, limit, func(d *sdk.Doc) error {
		if d.Kind != kind || !slices.Contains(d.Index, key) || d.Version < 1 || len(d.Data) == 0 {
			return fmt.Errorf("FindDocs %s %q passed %+v", kind, key, d)
		}
		ids = append(ids, d.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("FindDocs %s %q limit %d: %v", kind, key, limit, err)
	}
	return ids
}

func docsCreateGet(t *testing.T, s sdk.DocStore) {
	ctx := docsCtx(t)
	// Whitespace and key order are the caller's: the store keeps the bytes.
	doc := &sdk.Doc{Kind: "acme-order", ID: "order-1", Data: json.RawMessage(`{"status": "pending",  "a":[1, 2.50]}`),
		Index: []string{"account:A", "authz:z", "authz:b"}, ExpiresAt: time.Now().Add(time.Hour).Round(0)}
	before := time.Now().Add(-time.Second)
	docsPut(t, ctx, s, doc, 1)
	after := time.Now().Add(time.Second)
	if doc.Version != 0 {
		t.Errorf("PutDoc changed the caller's doc to version %d", doc.Version)
	}
	got := docsGet(t, ctx, s, "acme-order", "order-1")
	docsCompare(t, got, doc, 1)
	if got.UpdatedAt.Before(before) || got.UpdatedAt.After(after) {
		t.Errorf("UpdatedAt %v, want about now", got.UpdatedAt)
	}
	// The returned document is the caller's to change.
	got.Data[2] = 'X'
	docsCompare(t, docsGet(t, ctx, s, "acme-order", "order-1"), doc, 1)

	// No index, no expiry, JSON of any type.
	plain := &sdk.Doc{Kind: "n", ID: "spaces and ünïcode/?#", Data: json.RawMessage(`"just a string"`)}
	docsPut(t, ctx, s, plain, 1)
	docsCompare(t, docsGet(t, ctx, s, "n", plain.ID), plain, 1)
}

func docsCreateExists(t *testing.T, s sdk.DocStore) {
	ctx := docsCtx(t)
	doc := &sdk.Doc{Kind: "acme-account", ID: "acct", Data: json.RawMessage(`{"v":1}`), Index: []string{"jwk:T"}}
	docsPut(t, ctx, s, doc, 1)
	again := &sdk.Doc{Kind: "acme-account", ID: "acct", Data: json.RawMessage(`{"v":2}`)}
	_, err := s.PutDoc(ctx, again)
	docsWantErr(t, "creating a taken id", err, sdk.ErrAlreadyExists)
	docsCompare(t, docsGet(t, ctx, s, "acme-account", "acct"), doc, 1)
	// Kinds are separate namespaces; ids are case-sensitive.
	docsPut(t, ctx, s, &sdk.Doc{Kind: "acme-order", ID: "acct", Data: json.RawMessage(`{}`)}, 1)
	docsPut(t, ctx, s, &sdk.Doc{Kind: "acme-account", ID: "ACCT", Data: json.RawMessage(`{}`)}, 1)
	for _, k := range [][2]string{{"acme-account", "missing"}, {"acme-authz", "acct"}, {"acme-account", "acct "}} {
		_, err := s.GetDoc(ctx, k[0], k[1])
		docsWantErr(t, fmt.Sprintf("GetDoc %s/%q", k[0], k[1]), err, sdk.ErrNotFound)
	}
	if ids := docsFindIDs(t, ctx, s, "acme-account", "jwk:T", 0); !slices.Equal(ids, []string{"acct"}) {
		t.Fatalf("FindDocs after a refused create: %q", ids)
	}
}

func docsUpdateCAS(t *testing.T, s sdk.DocStore) {
	ctx := docsCtx(t)
	doc := &sdk.Doc{Kind: "acme-order", ID: "o", Data: json.RawMessage(`{"status":"pending"}`),
		Index: []string{"account:1", "status:pending"}, ExpiresAt: time.Now().Add(time.Hour)}
	docsPut(t, ctx, s, doc, 1)
	first := docsGet(t, ctx, s, "acme-order", "o")

	up := &sdk.Doc{Kind: "acme-order", ID: "o", Version: 1, Data: json.RawMessage(`{"status":"ready"}`),
		Index: []string{"account:1", "status:ready"}}
	docsPut(t, ctx, s, up, 2)
	got := docsGet(t, ctx, s, "acme-order", "o")
	docsCompare(t, got, up, 2) // Data, Index and ExpiresAt (cleared) replaced
	if got.UpdatedAt.Before(first.UpdatedAt) {
		t.Errorf("UpdatedAt went back from %v to %v", first.UpdatedAt, got.UpdatedAt)
	}
	if ids := docsFindIDs(t, ctx, s, "acme-order", "status:pending", 0); len(ids) != 0 {
		t.Errorf("an index entry the update dropped still finds %q", ids)
	}
	if ids := docsFindIDs(t, ctx, s, "acme-order", "status:ready", 0); !slices.Equal(ids, []string{"o"}) {
		t.Errorf("an index entry the update added finds %q", ids)
	}

	for _, v := range []int64{1, 3, 100} {
		stale := &sdk.Doc{Kind: "acme-order", ID: "o", Version: v, Data: json.RawMessage(`{"status":"invalid"}`)}
		_, err := s.PutDoc(ctx, stale)
		docsWantErr(t, fmt.Sprintf("update at version %d of a document at 2", v), err, sdk.ErrFailedPrecondition)
	}
	docsCompare(t, docsGet(t, ctx, s, "acme-order", "o"), up, 2)

	_, err := s.PutDoc(ctx, &sdk.Doc{Kind: "acme-order", ID: "nope", Version: 1, Data: json.RawMessage(`{}`)})
	docsWantErr(t, "update of a missing document", err, sdk.ErrNotFound)
	if _, err := s.GetDoc(ctx, "acme-order", "nope"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("an update of a missing document created it (GetDoc: %v)", err)
	}

	up3 := &sdk.Doc{Kind: "acme-order", ID: "o", Version: 2, Data: json.RawMessage(`{"status":"valid"}`), ExpiresAt: time.Now().Add(time.Minute)}
	docsPut(t, ctx, s, up3, 3)
	docsCompare(t, docsGet(t, ctx, s, "acme-order", "o"), up3, 3)
}

func docsDelete(t *testing.T, s sdk.DocStore) {
	ctx := docsCtx(t)
	doc := &sdk.Doc{Kind: "acme-nonce", ID: "n1", Data: json.RawMessage(`{}`), Index: []string{"k"}}
	docsPut(t, ctx, s, doc, 1)
	docsPut(t, ctx, s, &sdk.Doc{Kind: "acme-nonce", ID: "n1", Version: 1, Data: json.RawMessage(`{}`), Index: []string{"k"}}, 2)
	docsWantErr(t, "delete at a stale version", s.DeleteDoc(ctx, "acme-nonce", "n1", 1), sdk.ErrFailedPrecondition)
	docsWantErr(t, "delete at a future version", s.DeleteDoc(ctx, "acme-nonce", "n1", 3), sdk.ErrFailedPrecondition)
	docsGet(t, ctx, s, "acme-nonce", "n1")
	if err := s.DeleteDoc(ctx, "acme-nonce", "n1", 2); err != nil {
		t.Fatalf("delete at the stored version: %v", err)
	}
	_, err := s.GetDoc(ctx, "acme-nonce", "n1")
	docsWantErr(t, "GetDoc of a deleted document", err, sdk.ErrNotFound)
	docsWantErr(t, "second delete", s.DeleteDoc(ctx, "acme-nonce", "n1", 2), sdk.ErrNotFound)
	docsWantErr(t, "second delete, any version", s.DeleteDoc(ctx, "acme-nonce", "n1", 0), sdk.ErrNotFound)
	_, err = s.PutDoc(ctx, &sdk.Doc{Kind: "acme-nonce", ID: "n1", Version: 2, Data: json.RawMessage(`{}`)})
	docsWantErr(t, "update of a deleted document", err, sdk.ErrNotFound)
	if ids := docsFindIDs(t, ctx, s, "acme-nonce", "k", 0); len(ids) != 0 {
		t.Fatalf("FindDocs finds deleted %q", ids)
	}
	// Created again, it starts over; version 0 deletes whatever is there.
	docsPut(t, ctx, s, doc, 1)
	docsPut(t, ctx, s, &sdk.Doc{Kind: "acme-nonce", ID: "n1", Version: 1, Data: json.RawMessage(`{}`)}, 2)
	if err := s.DeleteDoc(ctx, "acme-nonce", "n1", 0); err != nil {
		t.Fatalf("delete at any version: %v", err)
	}
	docsWantErr(t, "delete of a document never stored", s.DeleteDoc(ctx, "acme-nonce", "never", 0), sdk.ErrNotFound)
}

// Concurrent deleters of one document (consumers of one nonce): exactly
// one succeeds, the others get ErrNotFound.
func docsDeleteOnce(t *testing.T, s sdk.DocStore) { docsRaceDelete(t, []sdk.DocStore{s}, 8) }

// docsRaceDelete has deleters goroutines per store delete one document at
// once, for several documents: exactly one delete of each succeeds.
func docsRaceDelete(t *testing.T, stores []sdk.DocStore, deleters int) {
	ctx := docsCtx(t)
	const rounds = 10
	for r := range rounds {
		id := fmt.Sprintf("nonce-%d", r)
		docsPut(t, ctx, stores[r%len(stores)], &sdk.Doc{Kind: "acme-nonce", ID: id, Data: json.RawMessage(`{}`)}, 1)
		errs := make([]error, deleters*len(stores))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range errs {
			wg.Go(func() {
				<-start
				// Half at version 1, half at any version.
				errs[i] = stores[i%len(stores)].DeleteDoc(ctx, "acme-nonce", id, int64(i/len(stores)%2))
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
				t.Fatalf("round %d deleter %d: %v, want nil or ErrNotFound", r, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d concurrent deletes succeeded, want exactly 1", r, won, len(errs))
		}
	}
}

func docsFind(t *testing.T, s sdk.DocStore) {
	ctx := docsCtx(t)
	// Byte order: upper case before lower case, then non-ASCII.
	ids := []string{"b", "é", "a10", "Z", "a", "a2", "ä"}
	for i, id := range ids {
		docsPut(t, ctx, s, &sdk.Doc{Kind: "acme-authz", ID: id, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)),
			Index: []string{"order:1", "n:" + id}}, 1)
	}
	docsPut(t, ctx, s, &sdk.Doc{Kind: "acme-authz", ID: "other", Data: json.RawMessage(`{}`), Index: []string{"order:2"}}, 1)
	docsPut(t, ctx, s, &sdk.Doc{Kind: "acme-authz", ID: "none", Data: json.RawMessage(`{}`)}, 1)
	docsPut(t, ctx, s, &sdk.Doc{Kind: "acme-chall", ID: "0", Data: json.RawMessage(`{}`), Index: []string{"order:1"}}, 1)
	// Index keys are matched whole: no prefixes, no case folding.
	docsPut(t, ctx, s, &sdk.Doc{Kind: "acme-authz", ID: "near", Data: json.RawMessage(`{}`), Index: []string{"order:10", "Order:1", "order:"}}, 1)

	want := slices.Clone(ids)
	slices.Sort(want)
	if got := docsFindIDs(t, ctx, s, "acme-authz", "order:1", 0); !slices.Equal(got, want) {
		t.Fatalf("FindDocs order:1: %q, want %q", got, want)
	}
	for _, limit := range []int{1, 3, len(ids), len(ids) + 5} {
		w := want[:min(limit, len(want))]
		if got := docsFindIDs(t, ctx, s, "acme-authz", "order:1", limit); !slices.Equal(got, w) {
			t.Fatalf("FindDocs order:1 limit %d: %q, want %q", limit, got, w)
		}
	}
	if got := docsFindIDs(t, ctx, s, "acme-authz", "n:é", 0); !slices.Equal(got, []string{"é"}) {
		t.Fatalf("FindDocs n:é: %q", got)
	}
	if got := docsFindIDs(t, ctx, s, "acme-authz", "order:3", 0); len(got) != 0 {
		t.Fatalf("FindDocs of an unused key: %q", got)
	}
	if got := docsFindIDs(t, ctx, s, "acme-chall", "order:1", 0); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("FindDocs in another kind: %q", got)
	}
	// The documents found are whole.
	err := s.FindDocs(ctx, "acme-authz", "n:a2", 0, func(d *sdk.Doc) error {
		if string(d.Data) != `{"n":5}` || d.Version != 1 || !slices.Equal(d.Index, []string{"n:a2", "order:1"}) || d.UpdatedAt.IsZero() {
			return fmt.Errorf("found %+v", d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func docsFindStop(t *testing.T, s sdk.DocStore) {
	ctx := docsCtx(t)
	for i := range 50 {
		docsPut(t, ctx, s, &sdk.Doc{Kind: "k", ID: fmt.Sprintf("%03d", i), Data: json.RawMessage(`{}`), Index: []string{"all"}}, 1)
	}
	stop := errors.New("enough")
	calls := 0
	err := s.FindDocs(ctx, "k", "all", 0, func(*sdk.Doc) error {
		calls++
		if calls == 3 {
			return fmt.Errorf("caller: %w", stop)
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("FindDocs returned %v, want fn's error", err)
	}
	if calls != 3 {
		t.Fatalf("fn called %d times after it failed on call 3", calls)
	}
	// The store is usable afterwards (no connection or lock left behind).
	if got := docsFindIDs(t, ctx, s, "k", "all", 0); len(got) != 50 {
		t.Fatalf("FindDocs after a stopped one: %d documents", len(got))
	}
	docsPut(t, ctx, s, &sdk.Doc{Kind: "k", ID: "050", Data: json.RawMessage(`{}`)}, 1)
}

func docsExpiry(t *testing.T, s sdk.DocStore) {
	ctx := docsCtx(t)
	past := time.Now().Add(-time.Minute)
	gone := &sdk.Doc{Kind: "acme-nonce", ID: "old", Data: json.RawMessage(`{"v":1}`), Index: []string{"k"}, ExpiresAt: past}
	docsPut(t, ctx, s, gone, 1)
	_, err := s.GetDoc(ctx, "acme-nonce", "old")
	docsWantErr(t, "GetDoc of an expired document", err, sdk.ErrNotFound)
	docsWantErr(t, "DeleteDoc of an expired document", s.DeleteDoc(ctx, "acme-nonce", "old", 0), sdk.ErrNotFound)
	_, err = s.PutDoc(ctx, &sdk.Doc{Kind: "acme-nonce", ID: "old", Version: 1, Data: json.RawMessage(`{}`)})
	docsWantErr(t, "update of an expired document", err, sdk.ErrNotFound)
	if ids := docsFindIDs(t, ctx, s, "acme-nonce", "k", 0); len(ids) != 0 {
		t.Fatalf("FindDocs finds expired %q", ids)
	}
	// An expired document's id is free again.
	fresh := &sdk.Doc{Kind: "acme-nonce", ID: "old", Data: json.RawMessage(`{"v":2}`), Index: []string{"k"}}
	docsPut(t, ctx, s, fresh, 1)
	docsCompare(t, docsGet(t, ctx, s, "acme-nonce", "old"), fresh, 1)

	// A document expiring soon is there, then is not.
	const ttl = 300 * time.Millisecond
	soon := &sdk.Doc{Kind: "acme-nonce", ID: "soon", Data: json.RawMessage(`{}`), Index: []string{"k"}, ExpiresAt: time.Now().Add(ttl)}
	docsPut(t, ctx, s, soon, 1)
	// An update can lift an expiry.
	keep := &sdk.Doc{Kind: "acme-nonce", ID: "keep", Data: json.RawMessage(`{}`), Index: []string{"k"}, ExpiresAt: time.Now().Add(ttl)}
	docsPut(t, ctx, s, keep, 1)
	docsPut(t, ctx, s, &sdk.Doc{Kind: "acme-nonce", ID: "keep", Version: 1, Data: json.RawMessage(`{}`), Index: []string{"k"}}, 2)
	// A slow machine may pass the expiry before these reads: "soon" is
	// then rightly gone.
	got, err := s.GetDoc(ctx, "acme-nonce", "soon")
	switch {
	case err == nil:
		docsCompare(t, got, soon, 1)
	case !errors.Is(err, sdk.ErrNotFound) || time.Now().Before(soon.ExpiresAt):
		t.Fatalf("GetDoc before expiry: %v", err)
	}
	ids := docsFindIDs(t, ctx, s, "acme-nonce", "k", 0)
	if !slices.Equal(ids, []string{"keep", "old", "soon"}) && (!slices.Equal(ids, []string{"keep", "old"}) || time.Now().Before(soon.ExpiresAt)) {
		t.Fatalf("FindDocs before expiry: %q", ids)
	}
	time.Sleep(time.Until(soon.ExpiresAt) + 50*time.Millisecond)
	_, err = s.GetDoc(ctx, "acme-nonce", "soon")
	docsWantErr(t, "GetDoc after ExpiresAt", err, sdk.ErrNotFound)
	if ids := docsFindIDs(t, ctx, s, "acme-nonce", "k", 0); !slices.Equal(ids, []string{"keep", "old"}) {
		t.Fatalf("FindDocs after expiry: %q", ids)
	}
	_, err = s.PutDoc(ctx, &sdk.Doc{Kind: "acme-nonce", ID: "soon", Version: 1, Data: json.RawMessage(`{}`)})
	docsWantErr(t, "update after ExpiresAt", err, sdk.ErrNotFound)
}

// Every limit of sdk.Doc is refused with ErrInvalidArgument, and the values
// at the limits are accepted.
func docsLimits(t *testing.T, s sdk.DocStore) {
	ctx := docsCtx(t)
	long := func(n int) string { return strings.Repeat("x", n) }
	ok := func() *sdk.Doc { return &sdk.Doc{Kind: "k", ID: "id", Data: json.RawMessage(`{}`)} }
	with := func(f func(*sdk.Doc)) *sdk.Doc { d := ok(); f(d); return d }
	sixteen := make([]string, sdk.MaxDocIndexKeys)
	for i := range sixteen {
		sixteen[i] = fmt.Sprintf("key-%02d-%s", i, long(sdk.MaxDocIndexLen-7))
	}
	bigData := json.RawMessage(`"` + long(sdk.MaxDocDataLen-2) + `"`)

	for _, c := range []struct {
		name string
		doc  *sdk.Doc
	}{
		{"nil", nil},
		{"empty kind", with(func(d *sdk.Doc) { d.Kind = "" })},
		{"long kind", with(func(d *sdk.Doc) { d.Kind = long(sdk.MaxDocKindLen + 1) })},
		{"kind with a slash", with(func(d *sdk.Doc) { d.Kind = "acme/order" })},
		{"kind with a space", with(func(d *sdk.Doc) { d.Kind = "acme order" })},
		{"kind with an underscore", with(func(d *sdk.Doc) { d.Kind = "acme_order" })},
		{"kind not ASCII", with(func(d *sdk.Doc) { d.Kind = "ordér" })},
		{"empty id", with(func(d *sdk.Doc) { d.ID = "" })},
		{"long id", with(func(d *sdk.Doc) { d.ID = long(sdk.MaxDocIDLen + 1) })},
		{"id not UTF-8", with(func(d *sdk.Doc) { d.ID = "a\xffb" })},
		{"id with NUL", with(func(d *sdk.Doc) { d.ID = "a\x00b" })},
		{"negative version", with(func(d *sdk.Doc) { d.Version = -1 })},
		{"no data", with(func(d *sdk.Doc) { d.Data = nil })},
		{"data not JSON", with(func(d *sdk.Doc) { d.Data = json.RawMessage(`{"a":`) })},
		{"two JSON values", with(func(d *sdk.Doc) { d.Data = json.RawMessage(`{} {}`) })},
		{"data over 1 MiB", with(func(d *sdk.Doc) { d.Data = json.RawMessage(`"` + long(sdk.MaxDocDataLen-1) + `"`) })},
		{"expiry before 1970", with(func(d *sdk.Doc) { d.ExpiresAt = time.Unix(-1, 0) })},
		{"expiry after 9999", with(func(d *sdk.Doc) { d.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{"17 index entries", with(func(d *sdk.Doc) { d.Index = append(slices.Clone(sixteen), "one-more") })},
		{"long index entry", with(func(d *sdk.Doc) { d.Index = []string{long(sdk.MaxDocIndexLen + 1)} })},
		{"empty index entry", with(func(d *sdk.Doc) { d.Index = []string{"a", ""} })},
		{"index entry not UTF-8", with(func(d *sdk.Doc) { d.Index = []string{"\xc3"} })},
		{"index entry with NUL", with(func(d *sdk.Doc) { d.Index = []string{"a\x00"} })},
		{"index entry twice", with(func(d *sdk.Doc) { d.Index = []string{"a", "b", "a"} })},
	} {
		_, err := s.PutDoc(ctx, c.doc)
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("PutDoc with %s: %v, want ErrInvalidArgument", c.name, err)
		}
	}
	if ids := docsFindIDs(t, ctx, s, "k", "a", 0); len(ids) != 0 {
		t.Fatalf("a refused document was stored: %q", ids)
	}

	for _, c := range []struct {
		name, kind, id string
		version        int64
	}{
		{"empty kind", "", "id", 0},
		{"bad kind", "a.b", "id", 0},
		{"long kind", long(sdk.MaxDocKindLen + 1), "id", 0},
		{"empty id", "k", "", 0},
		{"long id", "k", long(sdk.MaxDocIDLen + 1), 0},
		{"id not UTF-8", "k", "\xff", 0},
		{"negative version", "k", "id", -1},
	} {
		if c.version == 0 {
			_, err := s.GetDoc(ctx, c.kind, c.id)
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("GetDoc with %s: %v, want ErrInvalidArgument", c.name, err)
			}
		}
		if err := s.DeleteDoc(ctx, c.kind, c.id, c.version); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("DeleteDoc with %s: %v, want ErrInvalidArgument", c.name, err)
		}
	}
	for _, c := range []struct {
		name, kind, key string
		limit           int
	}{
		{"empty kind", "", "key", 0},
		{"bad kind", "k!", "key", 0},
		{"empty key", "k", "", 0},
		{"long key", "k", long(sdk.MaxDocIndexLen + 1), 0},
		{"key not UTF-8", "k", "\xff", 0},
		{"negative limit", "k", "key", -1},
	} {
		err := s.FindDocs(ctx, c.kind, c.key, c.limit, func(*sdk.Doc) error { return nil })
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("FindDocs with %s: %v, want ErrInvalidArgument", c.name, err)
		}
	}

	// At the limits.
	edge := &sdk.Doc{Kind: long(sdk.MaxDocKindLen-3) + "-Z9", ID: long(sdk.MaxDocIDLen-2) + "é", Data: bigData, Index: sixteen,
		ExpiresAt: time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)}
	docsPut(t, ctx, s, edge, 1)
	docsCompare(t, docsGet(t, ctx, s, edge.Kind, edge.ID), edge, 1)
	if ids := docsFindIDs(t, ctx, s, edge.Kind, sixteen[15], 1); !slices.Equal(ids, []string{edge.ID}) {
		t.Fatalf("FindDocs by the 16th index entry: %d documents", len(ids))
	}
}

// N goroutines each add 1 to a counter M times by compare-and-swap
// (read, then write at the version read, retrying on a conflict): no
// increment is lost, and the version counts every write.
func docsConcurrentCAS(t *testing.T, s sdk.DocStore) { docsRaceCAS(t, []sdk.DocStore{s}, 6, 15) }

// docsRaceCAS runs workers goroutines per store, each adding 1 to one
// counter each times by compare-and-swap, and checks that every store sees
// every increment.
func docsRaceCAS(t *testing.T, stores []sdk.DocStore, workers, each int) {
	ctx := docsCtx(t)
	docsPut(t, ctx, stores[0], &sdk.Doc{Kind: "counter", ID: "c", Data: json.RawMessage(`{"n":0}`)}, 1)
	var wg sync.WaitGroup
	errc := make(chan error, workers*len(stores))
	for n, s := range stores {
		for w := range workers {
			wg.Go(func() {
				for range each {
					if err := docsIncrement(ctx, s); err != nil {
						errc <- fmt.Errorf("store %d worker %d: %w", n, w, err)
						return
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
	total := workers * each * len(stores)
	for n, s := range stores {
		got := docsGet(t, ctx, s, "counter", "c")
		if want := fmt.Sprintf(`{"n":%d}`, total); string(got.Data) != want {
			t.Fatalf("store %d: counter %s after %d increments, want %s", n, got.Data, total, want)
		}
		if got.Version != int64(total)+1 {
			t.Fatalf("store %d: version %d after %d updates, want %d", n, got.Version, total, total+1)
		}
	}
}

// docsIncrement adds 1 to the counter by compare-and-swap, retrying on
// conflicts.
func docsIncrement(ctx context.Context, s sdk.DocStore) error {
	for {
		d, err := s.GetDoc(ctx, "counter", "c")
		if err != nil {
			return err
		}
		runtime.Gosched() // let the others read the same version
		var v struct{ N int }
		if err := json.Unmarshal(d.Data, &v); err != nil {
			return err
		}
		d.Data = json.RawMessage(fmt.Sprintf(`{"n":%d}`, v.N+1))
		_, err = s.PutDoc(ctx, d)
		if !errors.Is(err, sdk.ErrFailedPrecondition) {
			return err
		}
	}
}

func docsCanceled(t *testing.T, s sdk.DocStore) {
	ctx := docsCtx(t)
	docsPut(t, ctx, s, &sdk.Doc{Kind: "k", ID: "a", Data: json.RawMessage(`{}`), Index: []string{"x"}}, 1)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.PutDoc(canceled, &sdk.Doc{Kind: "k", ID: "b", Data: json.RawMessage(`{}`)})
	docsWantErr(t, "PutDoc with a canceled context", err, context.Canceled)
	_, err = s.GetDoc(canceled, "k", "a")
	docsWantErr(t, "GetDoc with a canceled context", err, context.Canceled)
	docsWantErr(t, "DeleteDoc with a canceled context", s.DeleteDoc(canceled, "k", "a", 0), context.Canceled)
	err = s.FindDocs(canceled, "k", "x", 0, func(*sdk.Doc) error { return nil })
	docsWantErr(t, "FindDocs with a canceled context", err, context.Canceled)
	if _, err := s.GetDoc(ctx, "k", "b"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("a PutDoc with a canceled context stored the document (GetDoc: %v)", err)
	}
	docsGet(t, ctx, s, "k", "a")
}
