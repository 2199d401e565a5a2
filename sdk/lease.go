package sdk

import (
	"context"
	"time"
)

// LeaseRequest asks a certstore for a named lease.
type LeaseRequest struct {
	// Name identifies the lease: every node asking the same store for the
	// same name competes for one lease.
	Name string
	// CheckInterval is how often the store checks that it still holds the
	// lease; 0 leaves the store's default. A loss is reported at most
	// about this long (plus the check's own timeout) after it happens.
	CheckInterval time.Duration
}

// Lease is a held lease. It ends when the store's session that holds it
// ends (the connection drops, the database restarts, the plugin process
// dies) or on Release.
type Lease interface {
	// Lost is closed when the lease ended without Release; Err then says
	// why (wrapping ErrUnavailable when the store or the plugin went away).
	Lost() <-chan struct{}
	// Err is nil until Lost is closed.
	Err() error
	// Holder names the store session holding the lease (a PostgreSQL
	// store: its backend pid), for logs and tests.
	Holder() string
	// Release gives the lease up so that another holder may take it. It
	// is idempotent; after Release, Lost is never closed by a loss.
	Release(ctx context.Context) error
}

// Leaser is optional for certstores: a store shared by several pkid nodes
// offers named leases so that one node at a time runs the periodic jobs.
// A single-node store needs none.
//
// Lease tries once, without waiting for the holder to let go. Errors:
// ErrHeld (another holder has it; try again later), ErrUnavailable (the
// store is unreachable; retryable), ErrInvalidArgument (empty name); through
// the host, ErrUnimplemented when the instance does not implement Leaser.
// The lease outlives ctx, which bounds only the acquisition.
type Leaser interface {
	Lease(ctx context.Context, req LeaseRequest) (Lease, error)
}
