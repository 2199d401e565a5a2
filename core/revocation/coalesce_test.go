package revocation

import (
	"context"
	"math/big"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/core/config"
)

// published counts the CRLs a Service publishes per CA and kind, in order.
type published struct {
	mu      sync.Mutex
	numbers []*big.Int // every CRL of CA "a", full or delta, in publication order
	fulls   map[string]int
	deltas  map[string]int
}

func (p *published) hook(label string, delta bool, m *Meta) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fulls == nil {
		p.fulls, p.deltas = map[string]int{}, map[string]int{}
	}
	if delta {
		p.deltas[label]++
	} else {
		p.fulls[label]++
	}
	if label == "a" {
		n, _ := new(big.Int).SetString(m.Number, 10)
		p.numbers = append(p.numbers, n)
	}
}

func (p *published) counts(label string) (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fulls[label], p.deltas[label]
}

// A burst of revocations made while a regeneration runs is covered by one
// more regeneration of the full CRL (and its delta), not one per
// revocation. Deterministic: the first regeneration is held in the hook
// while the burst is revoked.
func TestRevokedCoalesces(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	var p published
	entered, release := make(chan struct{}), make(chan struct{})
	s := e.service(t, func(o *Options) {
		o.Coalesce = -1 // no window: the test holds the generator instead
		o.Published = func(label string, delta bool, m *Meta) {
			p.hook(label, delta, m)
			if full, _ := p.counts(label); label == "a" && !delta && full == 1 {
				close(entered)
				<-release
			}
		}
	})
	s.Start(ctx)
	defer s.Stop()

	const burst = 30
	leaves := make(map[string]bool)
	first := e.issue(t, "a", "first.example.com")
	leaves[first.SerialNumber.String()] = true
	if err := s.Revoked(ctx, e.revoke(t, "a", first, 1)); err != nil {
		t.Fatal(err)
	}
	<-entered
	for range burst {
		c := e.issue(t, "a", "burst.example.com")
		leaves[c.SerialNumber.String()] = true
		if err := s.Revoked(ctx, e.revoke(t, "a", c, 1)); err != nil {
			t.Fatal(err)
		}
	}
	close(release)

	// The request waits for the regeneration covering the burst.
	r := get(t, s.CRLHandler(), http.MethodGet, "/a.crl")
	if r.status != http.StatusOK {
		t.Fatalf("GET a.crl: %d %s", r.status, r.body)
	}
	got := entries(parseCRL(t, r.body, e.cas["a"].cert))
	for serial := range leaves {
		if _, ok := got[serial]; !ok {
			t.Errorf("serial %s revoked in the burst is not in the full CRL", serial)
		}
	}
	if full, delta := p.counts("a"); full != 2 || delta != 2 {
		t.Errorf("%d revocations made %d full and %d delta CRLs, want 2 and 2", burst+1, full, delta)
	}
	if full, delta := p.counts("b"); full != 0 || delta != 0 {
		t.Errorf("CA b, not revoked from, got %d full and %d delta CRLs", full, delta)
	}
}

// on_revoke = false: revocations wait for the schedule; no regeneration,
// and CRL requests do not wait.
func TestRevokedOnRevokeOff(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(_ string, c *config.CA) { c.CRL.OnRevoke = false })
	var p published
	s := e.service(t, func(o *Options) { o.Published = p.hook })
	if _, err := s.GenerateFull(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	s.Start(ctx)
	leaf := e.issue(t, "a", "leaf.example.com")
	if err := s.Revoked(ctx, e.revoke(t, "a", leaf, 1)); err != nil {
		t.Fatal(err)
	}
	done := make(chan reply)
	go func() { done <- get(t, s.CRLHandler(), http.MethodGet, "/a.crl") }()
	select {
	case r := <-done:
		if _, ok := entries(parseCRL(t, r.body, e.cas["a"].cert))[leaf.SerialNumber.String()]; ok {
			t.Error("the full CRL lists the revocation with on_revoke = false")
		}
	case <-time.After(maxPendingWait / 2):
		t.Fatal("a CRL request waited for an on-revoke regeneration with on_revoke = false")
	}
	s.Stop()
	if full, delta := p.counts("a"); full != 1 || delta != 0 {
		t.Errorf("on_revoke = false: %d full and %d delta CRLs, want only the first full", full, delta)
	}
}

// CRL numbers strictly increase across full and delta CRLs (they share
// one sequence), however generations interleave and even when the clock
// stands still.
func TestCRLNumbersIncrease(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	var p published
	frozen := time.Now()
	s := e.service(t, func(o *Options) {
		o.Now = func() time.Time { return frozen }
		o.Published = p.hook
	})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				var err error
				if i%2 == 0 {
					_, err = s.GenerateFull(ctx, "a")
				} else {
					_, err = s.GenerateDelta(ctx, "a")
				}
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.numbers) < 24 {
		t.Fatalf("%d CRLs published, want at least 24", len(p.numbers))
	}
	for i := 1; i < len(p.numbers); i++ {
		if p.numbers[i].Cmp(p.numbers[i-1]) <= 0 {
			t.Errorf("CRL %d has number %v after %v", i, p.numbers[i], p.numbers[i-1])
		}
	}
}
