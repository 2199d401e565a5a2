package jobs

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

func TestExpirySweep(t *testing.T) {
	ctx := context.Background()
	st, err := storesqlite.Open(ctx, storesqlite.Options{Path: filepath.Join(t.TempDir(), "certs.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Second)
	recs := []*sdk.CertRecord{
		plugintest.NewCertRecord(1, "ab", "i", now.Add(-2*time.Hour)), // expired
		plugintest.NewCertRecord(2, "ab", "i", now.Add(-time.Hour)),   // expired
		plugintest.NewCertRecord(3, "ab", "i", now.Add(-time.Hour)),   // expired, revoked
		plugintest.NewCertRecord(4, "ab", "i", now.Add(time.Hour)),    // valid
		plugintest.NewCertRecord(5, "ab", "i", now.Add(3*time.Hour)),  // valid
	}
	for _, r := range recs {
		if err := st.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Revoke(ctx, sdk.RevokeRequest{Serial: recs[2].Serial, AKI: "ab", Reason: 1}); err != nil {
		t.Fatal(err)
	}

	clock := now
	s := &ExpirySweeper{Store: st, Now: func() time.Time { return clock }}
	sweep := func(want int, wantSerials ...string) {
		t.Helper()
		res, err := s.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Count != want || len(res.Serials) != len(wantSerials) {
			t.Fatalf("at %v: %+v, want %d %v", clock.Sub(now), res, want, wantSerials)
		}
		for i := range wantSerials {
			if res.Serials[i] != wantSerials[i] {
				t.Fatalf("at %v: serials %v, want %v", clock.Sub(now), res.Serials, wantSerials)
			}
		}
	}
	sweep(2, recs[0].Serial, recs[1].Serial) // first sweep: all expired good ones
	sweep(0)                                 // nothing new
	clock = now.Add(time.Hour)               // recs[3] expires exactly now: not yet (NotAfter < now)
	sweep(0)
	clock = now.Add(2 * time.Hour) // ...and is counted once, in the next window
	sweep(1, recs[3].Serial)
	sweep(0)
	clock = now.Add(24 * time.Hour)
	sweep(1, recs[4].Serial)

	// Nothing was changed: the expired ones are still good.
	got, err := st.Get(ctx, recs[0].Serial, "ab")
	if err != nil || got.Status != sdk.StatusGood {
		t.Fatalf("record changed: %+v, %v", got, err)
	}
}

// TestExpirySweepJob: the job reports many expired certificates with a
// capped serial list, through OnSweep, when run by a local runner.
func TestExpirySweepJob(t *testing.T) {
	ctx := context.Background()
	st, err := storesqlite.Open(ctx, storesqlite.Options{Path: filepath.Join(t.TempDir(), "certs.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := int64(0); i < 25; i++ {
		if err := st.Put(ctx, plugintest.NewCertRecord(i, "cd", "i", time.Now().Add(-time.Duration(i+1)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	var count, serials atomic.Int64
	s := &ExpirySweeper{Store: st, OnSweep: func(r SweepResult) {
		if count.CompareAndSwap(0, int64(r.Count)) {
			serials.Store(int64(len(r.Serials)))
		}
	}}
	r, err := NewLocal([]Job{s.Job(time.Minute)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Start(ctx)
	defer r.Stop()
	if _, ok := waitFor(2*time.Second, func() bool { return count.Load() != 0 }); !ok {
		t.Fatal("sweep did not run")
	}
	if count.Load() != 25 || serials.Load() != maxReportedSerials {
		t.Fatalf("count %d serials %d", count.Load(), serials.Load())
	}
	if j := ExpirySweep(st, nil, time.Minute); j.Name != "expiry-sweep" || j.Interval != time.Minute || j.Run == nil {
		t.Fatalf("ExpirySweep job %+v", j)
	}
}
