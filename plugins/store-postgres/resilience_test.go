package storepostgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/pgtest"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// TestServerRestart: while the server is down, writes and reads fail within
// about connect_timeout with sdk.ErrUnavailable (and store nothing); after
// it is back the same instance works again without reconfiguring.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	c := pgtest.New(t)
	dsn := c.NewDatabase(t)
	const timeout = 2 * time.Second
	inst, err := New().Configure(context.Background(), certstoreConfig(t, dsn, map[string]any{"connect_timeout": "2s"}))
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	s := inst.(*Store)
	ctx := context.Background()
	na := time.Now().Add(time.Hour)
	put := func(n int64) error { return s.Put(ctx, plugintest.NewCertRecord(n, "ab", "i", na)) }
	// Several pooled connections, so some are stale after the restart.
	for n := range int64(16) {
		if err := put(n); err != nil {
			t.Fatalf("Put before the stop: %v", err)
		}
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	for n := int64(100); n < 103; n++ {
		start := time.Now()
		err := put(n)
		if !errors.Is(err, sdk.ErrUnavailable) {
			t.Fatalf("Put while the server is down: %v, want sdk.ErrUnavailable", err)
		}
		if d := time.Since(start); d > timeout+time.Second {
			t.Fatalf("Put while the server is down took %v, want about connect_timeout (%v) at most", d, timeout)
		}
		t.Logf("Put while down: %v after %v", err, time.Since(start))
	}
	if _, err := s.Get(ctx, plugintest.NewCertRecord(1, "ab", "i", na).Serial, "ab"); !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("Get while the server is down: %v", err)
	}
	errs, err := s.PutBatch(ctx, []*sdk.CertRecord{plugintest.NewCertRecord(200, "ab", "i", na)})
	if !errors.Is(err, sdk.ErrUnavailable) || errs != nil {
		t.Fatalf("PutBatch while the server is down: %v, %v", errs, err)
	}

	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	for n := int64(300); n < 316; n++ {
		if err := put(n); err != nil {
			t.Fatalf("Put %d after the restart: %v", n, err)
		}
	}
	for _, n := range []int64{1, 300} {
		if _, err := s.Get(ctx, plugintest.NewCertRecord(n, "ab", "i", na).Serial, "ab"); err != nil {
			t.Fatalf("Get %d after the restart: %v", n, err)
		}
	}
	for n := int64(100); n < 103; n++ {
		if _, err := s.Get(ctx, plugintest.NewCertRecord(n, "ab", "i", na).Serial, "ab"); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("a Put that failed while the server was down stored record %d (Get: %v)", n, err)
		}
	}

	// A restart between two operations (every pooled connection stale,
	// some idle for less than the pool's ping threshold) is invisible.
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	for n := int64(400); n < 416; n++ {
		if err := put(n); err != nil {
			t.Fatalf("Put %d right after a restart: %v", n, err)
		}
	}
	n := 0
	if err := s.List(ctx, sdk.ListFilter{}, func(*sdk.CertRecord) error { n++; return nil }); err != nil || n != 48 {
		t.Fatalf("List after the restarts: %d records, %v; want 48", n, err)
	}
}
