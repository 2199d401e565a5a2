package storepostgres

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// TestLease: one holder at a time; Release lets another take it; killing
// the holder's session is reported as a loss wrapping ErrUnavailable, after
// which the lock is free.
// In process and through the gRPC adapters.
func TestLease(t *testing.T) {
	for name, open := range map[string]func(t *testing.T, dsn string) sdk.Leaser{
		"InProcess": func(t *testing.T, dsn string) sdk.Leaser { return openDSN(t, dsn) },
		"GRPC": func(t *testing.T, dsn string) sdk.Leaser {
			c := plugintest.ServeGRPC(t, New())
			plugintest.Configure(t, c, sdk.KindCertStore, "main",
				map[string]any{"dsn": dsn, "max_conns": nil, "connect_timeout": nil})
			l, ok := c.CertStore("main").(sdk.Leaser)
			if !ok {
				t.Fatal("the host's view of the instance is no sdk.Leaser")
			}
			return l
		},
	} {
		t.Run(name, func(t *testing.T) {
			dsn := newDSN(t)
			testLease(t, dsn, open(t, dsn), open(t, dsn))
		})
	}
}

func testLease(t *testing.T, dsn string, a, b sdk.Leaser) {
	ctx := context.Background()
	req := sdk.LeaseRequest{Name: "pkidjobs", CheckInterval: 50 * time.Millisecond}

	if _, err := a.Lease(ctx, sdk.LeaseRequest{}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("empty name: %v, want ErrInvalidArgument", err)
	}
	la, err := a.Lease(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lease(ctx, req); !errors.Is(err, sdk.ErrHeld) {
		t.Fatalf("second holder: %v, want ErrHeld", err)
	}
	if _, err := a.Lease(ctx, sdk.LeaseRequest{Name: "other"}); err != nil {
		t.Fatalf("another name: %v", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-la.Lost():
		t.Fatal("a released lease reports a loss")
	default:
	}
	lb, err := b.Lease(ctx, req)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}

	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	pid, err := strconv.Atoi(lb.Holder())
	if err != nil {
		t.Fatalf("holder %q: %v", lb.Holder(), err)
	}
	var killed bool
	if err := admin.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, killed, err)
	}
	select {
	case <-lb.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("killed session not reported lost")
	}
	if err := lb.Err(); !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("loss: %v, want ErrUnavailable", err)
	}
	_ = lb.Release(ctx)
	lc, err := a.Lease(ctx, req)
	if err != nil {
		t.Fatalf("after loss: %v", err)
	}
	_ = lc.Release(ctx)
}

// TestLeaseKeyCompatible: the jobs lease is the lock key of earlier
// releases' job runner, so old and new nodes exclude each other.
func TestLeaseKeyCompatible(t *testing.T) {
	if got := LeaseKey("pkidjobs"); got != 0x706b69646a6f6273 {
		t.Fatalf("LeaseKey(pkidjobs) = %#x", got)
	}
	if LeaseKey("a") == LeaseKey("b") {
		t.Fatal("names collide")
	}
}

// TestLeaseNotMigrationLock: a lease whose key is the migration lock's is
// refused rather than blocking every node's start.
func TestLeaseNotMigrationLock(t *testing.T) {
	st := openDSN(t, newDSN(t))
	_, err := st.Lease(t.Context(), sdk.LeaseRequest{Name: "pkidmigr"})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("Lease(pkidmigr) = %v, want ErrInvalidArgument", err)
	}
}

// TestUnavailableSQLState: a server out of disk or memory answers with a
// class 53 SQLSTATE; the write is worth retrying later (ErrUnavailable)
// but not at once on another connection.
func TestUnavailableSQLState(t *testing.T) {
	for _, tt := range []struct {
		code        string
		unavail     bool
		retryAtOnce bool
	}{
		{"53100", true, false},  // disk_full
		{"53200", true, false},  // out_of_memory
		{"53300", true, false},  // too_many_connections
		{"57P01", true, true},   // admin_shutdown
		{"23505", false, false}, // unique_violation
	} {
		err := &pgconn.PgError{Code: tt.code}
		if got := errors.Is(wrap(context.Background(), "put", err), sdk.ErrUnavailable); got != tt.unavail {
			t.Errorf("%s: ErrUnavailable = %v, want %v", tt.code, got, tt.unavail)
		}
		if got := staleConn(err); got != tt.retryAtOnce {
			t.Errorf("%s: staleConn = %v, want %v", tt.code, got, tt.retryAtOnce)
		}
	}
}

// TestLeaseEndsWithStore: closing the store ends its leases as losses, so
// their holders stop leading, and frees the lock.
func TestLeaseEndsWithStore(t *testing.T) {
	dsn := newDSN(t)
	ctx := context.Background()
	s, err := Open(ctx, Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Lease(ctx, sdk.LeaseRequest{Name: "pkidjobs"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case <-l.Lost():
	default:
		t.Fatal("closing the store did not end its lease")
	}
	if !errors.Is(l.Err(), sdk.ErrUnavailable) {
		t.Fatalf("loss: %v, want ErrUnavailable", l.Err())
	}
	if _, err := openDSN(t, dsn).Lease(ctx, sdk.LeaseRequest{Name: "pkidjobs"}); err != nil {
		t.Fatalf("lock not freed by Close: %v", err)
	}
}
