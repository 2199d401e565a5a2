package plugintest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// TestLeaser checks sdk.Leaser on two instances that share one backend
// (two nodes on one database): one holder per name at a time (ErrHeld for
// the other), names independent, Release hands the lease over without
// reporting a loss, Release idempotent, ErrInvalidArgument for an empty name.
// newPair returns the two instances.
func TestLeaser(t *testing.T, newPair func(t *testing.T) (a, b sdk.CertStore)) {
	a, b := newPair(t)
	la, ok := a.(sdk.Leaser)
	if !ok {
		t.Fatalf("%T does not implement sdk.Leaser", a)
	}
	lb, ok := b.(sdk.Leaser)
	if !ok {
		t.Fatalf("%T does not implement sdk.Leaser", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := sdk.LeaseRequest{Name: "plugintest", CheckInterval: 100 * time.Millisecond}

	if _, err := la.Lease(ctx, sdk.LeaseRequest{}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("empty name: %v, want ErrInvalidArgument", err)
	}
	held, err := la.Lease(ctx, req)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	if held.Err() != nil {
		t.Errorf("held lease has Err %v", held.Err())
	}
	if _, err := lb.Lease(ctx, req); !errors.Is(err, sdk.ErrHeld) {
		t.Fatalf("second holder: %v, want ErrHeld", err)
	}
	other, err := lb.Lease(ctx, sdk.LeaseRequest{Name: "plugintest-other"})
	if err != nil {
		t.Fatalf("another name: %v", err)
	}
	defer other.Release(ctx)
	if err := held.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	// The other side may see the release a moment later (the host's
	// Release ends a stream the plugin then unlocks).
	var next sdk.Lease
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		next, err = lb.Lease(ctx, req)
		if err == nil || !errors.Is(err, sdk.ErrHeld) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("Lease after Release: %v", err)
	}
	defer next.Release(ctx)
	select {
	case <-held.Lost():
		t.Error("a released lease reports a loss")
	default:
	}
}
