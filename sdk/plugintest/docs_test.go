package plugintest

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// docsCertStore is a certstore that keeps documents.
type docsCertStore struct {
	certstoreMem
	*MemDocStore
}

// docsLeasing is a certstore with leases that keeps documents.
type docsLeasing struct {
	leasing
	*MemDocStore
}

// serveDocs serves inst over gRPC and returns the host's view of it,
// checking the capabilities the adapter reported.
func serveDocs(t *testing.T, inst func() sdk.Instance, caps []string) sdk.CertStore {
	var seen sdk.Config
	cl := ServeGRPC(t, adapterPlugin{kinds: []string{sdk.KindCertStore}, inst: inst, seen: &seen})
	Configure(t, cl, sdk.KindCertStore, "a", map[string]any{})
	if got := cl.Capabilities(sdk.KindCertStore, "a"); !slices.Equal(got, caps) {
		t.Fatalf("capabilities %q, want %q", got, caps)
	}
	return cl.CertStore("a")
}

func TestDocStoreKitInMemory(t *testing.T) {
	t.Run("InProcess", func(t *testing.T) {
		TestDocStore(t, func(*testing.T) sdk.DocStore { return NewMemDocStore() })
	})
	t.Run("GRPC", func(t *testing.T) {
		TestDocStore(t, func(t *testing.T) sdk.DocStore {
			view := serveDocs(t, func() sdk.Instance { return &docsCertStore{MemDocStore: NewMemDocStore()} }, []string{rpc.CapDocs})
			return view.(sdk.DocStore)
		})
	})
}

// Over the wire, the host's view of a certstore is an sdk.DocStore exactly
// when the instance is, alongside its other optional interfaces.
func TestDocStoreViews(t *testing.T) {
	plain := serveDocs(t, func() sdk.Instance { return &certstoreMem{} }, nil)
	if _, ok := plain.(sdk.DocStore); ok {
		t.Error("the view of a certstore without documents is an sdk.DocStore")
	}
	table := &memLeases{}
	both := serveDocs(t, func() sdk.Instance { return &docsLeasing{leasing{leases: table}, NewMemDocStore()} }, []string{rpc.CapLease, rpc.CapDocs})
	ds, ok := both.(sdk.DocStore)
	if !ok {
		t.Fatal("the view of a leasing certstore with documents is no sdk.DocStore")
	}
	l, ok := both.(sdk.Leaser)
	if !ok {
		t.Fatal("the view of a leasing certstore with documents is no sdk.Leaser")
	}
	ctx := t.Context()
	if v, err := ds.PutDoc(ctx, &sdk.Doc{Kind: "k", ID: "a", Data: json.RawMessage(`{}`)}); err != nil || v != 1 {
		t.Fatalf("PutDoc: %d, %v", v, err)
	}
	lease, err := l.Lease(ctx, sdk.LeaseRequest{Name: "jobs"})
	if err != nil {
		t.Fatal(err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDocStoreSharedKitInMemory(t *testing.T) {
	t.Run("InProcess", func(t *testing.T) {
		TestDocStoreShared(t, func(*testing.T) (sdk.DocStore, sdk.DocStore) {
			m := NewMemDocStore()
			return m, m
		})
	})
	t.Run("GRPC", func(t *testing.T) {
		TestDocStoreShared(t, func(t *testing.T) (sdk.DocStore, sdk.DocStore) {
			m := NewMemDocStore()
			inst := func() sdk.Instance { return &docsCertStore{MemDocStore: m} }
			return serveDocs(t, inst, []string{rpc.CapDocs}).(sdk.DocStore), serveDocs(t, inst, []string{rpc.CapDocs}).(sdk.DocStore)
		})
	})
}

// The reference store's clock decides expiry and UpdatedAt.
func TestMemDocStoreClock(t *testing.T) {
	m := NewMemDocStore()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	m.SetClock(func() time.Time { return now })
	ctx := t.Context()
	if _, err := m.PutDoc(ctx, &sdk.Doc{Kind: "k", ID: "a", Data: json.RawMessage(`{}`), ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	d, err := m.GetDoc(ctx, "k", "a")
	if err != nil || !d.UpdatedAt.Equal(now) {
		t.Fatalf("GetDoc: %+v, %v; want UpdatedAt %v", d, err, now)
	}
	now = now.Add(time.Minute)
	if _, err := m.GetDoc(ctx, "k", "a"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("GetDoc at the expiry: %v, want ErrNotFound", err)
	}
}
