package plugintest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// memLeases is a lease table shared by the leasing instances of one test
// (the "database" of several nodes).
type memLeases struct {
	mu   sync.Mutex
	held map[string]*memLease
}

// leasing is a certstore with sdk.Leaser.
type leasing struct {
	certstoreMem
	leases *memLeases
}

func (s *leasing) Lease(_ context.Context, req sdk.LeaseRequest) (sdk.Lease, error) {
	if req.Name == "" {
		return nil, fmt.Errorf("lease: empty name: %w", sdk.ErrInvalidArgument)
	}
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	if s.leases.held == nil {
		s.leases.held = map[string]*memLease{}
	}
	if s.leases.held[req.Name] != nil {
		return nil, fmt.Errorf("lease %q: %w", req.Name, sdk.ErrHeld)
	}
	l := &memLease{m: s.leases, name: req.Name, lost: make(chan struct{}), released: make(chan struct{})}
	s.leases.held[req.Name] = l
	return l, nil
}

type memLease struct {
	m              *memLeases
	name           string
	lost, released chan struct{}
	err            error // under m.mu
	done           bool  // released; under m.mu
}

// kill ends the lease as a store would when its session dies.
func (l *memLease) kill() {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if l.done || l.err != nil {
		return
	}
	l.err = fmt.Errorf("lease %q: session killed: %w", l.name, sdk.ErrUnavailable)
	delete(l.m.held, l.name)
	close(l.lost)
}

func (l *memLease) Lost() <-chan struct{} { return l.lost }
func (l *memLease) Holder() string        { return "mem" }
func (l *memLease) Err() error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	return l.err
}

func (l *memLease) Release(context.Context) error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if l.done {
		return nil
	}
	l.done = true
	if l.err == nil {
		delete(l.m.held, l.name)
	}
	close(l.released)
	return nil
}

// get returns the plugin-side lease of name, if held.
func (m *memLeases) get(name string) *memLease {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.held[name]
}

// serveLeasing serves a leasing certstore on table over gRPC and returns the
// host's view of instance "a".
func serveLeasing(t *testing.T, table *memLeases) sdk.CertStore {
	var seen sdk.Config
	cl := ServeGRPC(t, adapterPlugin{kinds: []string{sdk.KindCertStore}, inst: func() sdk.Instance { return &leasing{leases: table} }, seen: &seen})
	Configure(t, cl, sdk.KindCertStore, "a", map[string]any{})
	if got := cl.Capabilities(sdk.KindCertStore, "a"); !slices.Equal(got, []string{rpc.CapLease}) {
		t.Fatalf("capabilities %q, want %q", got, rpc.CapLease)
	}
	return cl.CertStore("a")
}

func TestLeaserKitInMemory(t *testing.T) {
	t.Run("InProcess", func(t *testing.T) {
		TestLeaser(t, func(*testing.T) (sdk.CertStore, sdk.CertStore) {
			table := &memLeases{}
			return &leasing{leases: table}, &leasing{leases: table}
		})
	})
	t.Run("GRPC", func(t *testing.T) {
		TestLeaser(t, func(t *testing.T) (sdk.CertStore, sdk.CertStore) {
			table := &memLeases{}
			return serveLeasing(t, table), serveLeasing(t, table)
		})
	})
}

// Over the wire: a certstore without Leaser is no Leaser on the host; a
// loss in the store reaches the host's lease as ErrUnavailable; the host's
// Release reaches the store.
func TestLeaseOverGRPC(t *testing.T) {
	var seen sdk.Config
	plain := ServeGRPC(t, adapterPlugin{kinds: []string{sdk.KindCertStore}, inst: func() sdk.Instance { return &certstoreMem{} }, seen: &seen})
	Configure(t, plain, sdk.KindCertStore, "a", map[string]any{})
	if _, ok := plain.CertStore("a").(sdk.Leaser); ok {
		t.Fatal("the host's view of a certstore without leases is an sdk.Leaser")
	}

	table := &memLeases{}
	host := serveLeasing(t, table).(sdk.Leaser)
	ctx := t.Context()
	l, err := host.Lease(ctx, sdk.LeaseRequest{Name: "jobs"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Holder() != "mem" {
		t.Errorf("holder %q, want the store's %q", l.Holder(), "mem")
	}
	table.get("jobs").kill()
	select {
	case <-l.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("the store's loss did not reach the host")
	}
	if err := l.Err(); !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("loss: %v, want ErrUnavailable", err)
	}

	l2, err := host.Lease(ctx, sdk.LeaseRequest{Name: "jobs"})
	if err != nil {
		t.Fatalf("lease after loss: %v", err)
	}
	inPlugin := table.get("jobs")
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inPlugin.released:
	case <-time.After(5 * time.Second):
		t.Fatal("the host's Release did not reach the store")
	}
	select {
	case <-l2.Lost():
		t.Fatal("a released lease reports a loss")
	default:
	}
}
