package pluginhost_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/core/jobs"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/internal/pgtest"
	"github.com/pkid/pkid/sdk"
)

// openPostgres opens an out-of-process store-postgres instance on dsn in a
// host of its own (one host per simulated node).
func openPostgres(t *testing.T, dsn string) (*pluginhost.Host, sdk.CertStore) {
	t.Helper()
	h := newHost(t)
	cfg, _ := json.Marshal(map[string]any{"dsn": dsn, "max_conns": nil, "connect_timeout": "2s"})
	inst, err := h.Open(context.Background(), pluginhost.OpenRequest{Spec: builtin(t, sdk.KindCertStore, "postgres"), Name: "pg", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return h, inst.(sdk.CertStore)
}

// The host's view of a certstore offers leases only when the instance does:
// store-sqlite (one node) does not; store-postgres does
// (TestJobLeaderFailoverOnPluginKill).
func TestFacadeNoLeaser(t *testing.T) {
	if _, ok := openCertStore(t, newHost(t), false).(sdk.Leaser); ok {
		t.Error("the sqlite certstore's view is an sdk.Leaser")
	}
}

// Two nodes elect a job leader through their out-of-process store-postgres
// plugins. Killing the leader's plugin process loses its lease: its jobs
// stop, the other node takes over, and the old leader, whose plugin the
// host restarts, stays a follower.
func TestJobLeaderFailoverOnPluginKill(t *testing.T) {
	const retry = 200 * time.Millisecond
	const bound = 5 * time.Second
	dsn := pgtest.New(t).NewDatabase(t)
	type node struct {
		h    *pluginhost.Host
		src  jobs.LeaseSource
		r    *jobs.Runner
		runs atomic.Int64
	}
	var nodes [2]*node
	for i := range nodes {
		n := &node{}
		var cs sdk.CertStore
		n.h, cs = openPostgres(t, dsn)
		src, ok := cs.(jobs.LeaseSource)
		if !ok {
			t.Fatal("the postgres certstore's view is no lease source")
		}
		r, err := jobs.NewLeased(src, jobs.DefaultLeaseName, []jobs.Job{{Name: "count", Interval: time.Second, Run: func(context.Context) error {
			n.runs.Add(1)
			return nil
		}}}, nil, jobs.Options{RetryInterval: retry})
		if err != nil {
			t.Fatal(err)
		}
		n.r, n.src = r, src
		t.Cleanup(r.Stop)
		r.Start(context.Background())
		nodes[i] = n
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for end := time.Now().Add(bound); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%s: not within %v", what, bound)
			}
		}
	}
	wait("a leader", func() bool { return nodes[0].r.IsLeader() || nodes[1].r.IsLeader() })
	leader, follower := nodes[0], nodes[1]
	if follower.r.IsLeader() {
		leader, follower = follower, leader
	}
	if leader.r.IsLeader() == follower.r.IsLeader() {
		t.Fatal("both nodes lead")
	}

	proc := leader.h.Processes()[0]
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	wait("old leader steps down", func() bool { return !leader.r.IsLeader() })
	runs := leader.runs.Load()
	wait("follower takes over and runs its job", func() bool { return follower.r.IsLeader() && follower.runs.Load() > 0 })
	// The restarted plugin serves the old leader's retries, which find the
	// lease held.
	wait("killed plugin restarted", func() bool {
		st := proc.Status()
		return st.Restarts > 0 && st.State == pluginhost.StateRunning
	})
	for end := time.Now().Add(3 * retry); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if leader.r.IsLeader() || !follower.r.IsLeader() {
			t.Fatal("leadership moved back to the node whose plugin was killed")
		}
	}
	if leader.runs.Load() != runs {
		t.Fatal("the old leader ran its job after losing the lease")
	}
	// The new process answers leases: the jobs lease is held, another is free.
	if _, err := leader.src.Lease(context.Background(), sdk.LeaseRequest{Name: jobs.DefaultLeaseName}); !errors.Is(err, sdk.ErrHeld) {
		t.Fatalf("lease through the restarted plugin: %v, want ErrHeld", err)
	}
}
