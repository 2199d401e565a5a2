package jobs

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/pkid/pkid/internal/pgtest"
	storepostgres "github.com/pkid/pkid/plugins/store-postgres"
	"github.com/pkid/pkid/sdk"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// takeoverBound is the longest a follower may take to lead and run its job
// after the leader goes away.
const takeoverBound = 2 * time.Second

const testRetry = 200 * time.Millisecond

// pgSource opens a store-postgres instance on dsn as a node's lease source
// (in process: the leases are the store's; the plugin protocol has its own
// tests).
func pgSource(t *testing.T, dsn string) LeaseSource {
	t.Helper()
	s, err := storepostgres.Open(context.Background(), storepostgres.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// node is one runner with a job that counts its runs.
type node struct {
	name string
	r    *Runner
	runs atomic.Int64
}

func newNode(t *testing.T, src LeaseSource, name string) *node {
	t.Helper()
	n := &node{name: name}
	job := Job{Name: "count", Interval: time.Second, Run: func(ctx context.Context) error {
		n.runs.Add(1)
		return nil
	}}
	log := hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Debug, Output: testWriter{t}})
	r, err := NewLeased(src, DefaultLeaseName, []Job{job}, log, Options{RetryInterval: testRetry})
	if err != nil {
		t.Fatal(err)
	}
	n.r = r
	t.Cleanup(r.Stop)
	return n
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// waitFor polls cond until it holds or d passes; it returns the time taken
// and whether cond held.
func waitFor(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > d {
			return time.Since(start), false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// electOne starts both nodes, waits for a leader, checks for about a second
// that exactly one leads and only its job runs, and returns (leader,
// follower).
func electOne(t *testing.T, a, b *node) (*node, *node) {
	t.Helper()
	a.r.Start(context.Background())
	b.r.Start(context.Background())
	if _, ok := waitFor(takeoverBound, func() bool { return a.r.IsLeader() || b.r.IsLeader() }); !ok {
		t.Fatal("no leader elected")
	}
	checkExactlyOne(t, a, b, time.Second)
	leader, follower := a, b
	if b.r.IsLeader() {
		leader, follower = b, a
	}
	if leader.runs.Load() == 0 {
		t.Fatalf("%s leads but its job has not run", leader.name)
	}
	if n := follower.runs.Load(); n != 0 {
		t.Fatalf("follower %s ran its job %d times", follower.name, n)
	}
	return leader, follower
}

// checkExactlyOne samples both nodes for d and fails if not exactly one
// leads at any sample.
func checkExactlyOne(t *testing.T, a, b *node, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		la, lb := a.r.IsLeader(), b.r.IsLeader()
		if la && lb {
			t.Fatal("both nodes lead")
		}
		if !la && !lb {
			t.Fatal("no node leads")
		}
	}
}

// TestLeaderElectionStop: one of two nodes leads; when it stops, the other
// takes over and runs its job within takeoverBound.
func TestLeaderElectionStop(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	leader, follower := electOne(t, newNode(t, pgSource(t, dsn), "a"), newNode(t, pgSource(t, dsn), "b"))

	start := time.Now()
	leader.r.Stop()
	if leader.r.IsLeader() {
		t.Fatal("stopped runner still leads")
	}
	took, ok := waitFor(takeoverBound, func() bool { return follower.r.IsLeader() && follower.runs.Load() > 0 })
	if !ok {
		t.Fatalf("%s did not take over within %v", follower.name, takeoverBound)
	}
	t.Logf("takeover after Stop: %v (stop itself %v)", took, time.Since(start)-took)
}

// TestLeaderElectionSessionKilled: the server terminates the leader's
// session; the other node takes over within takeoverBound, and the old
// leader notices, steps down and stays a follower.
func TestLeaderElectionSessionKilled(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	leader, follower := electOne(t, newNode(t, pgSource(t, dsn), "a"), newNode(t, pgSource(t, dsn), "b"))
	pid, err := strconv.Atoi(leader.r.Holder())
	if err != nil {
		t.Fatalf("leader's holder %q is no backend pid: %v", leader.r.Holder(), err)
	}

	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed bool
	if err := admin.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, killed, err)
	}
	killedAt := time.Now()

	stepDown, ok := waitFor(takeoverBound, func() bool { return !leader.r.IsLeader() })
	if !ok {
		t.Fatalf("old leader %s did not step down within %v", leader.name, takeoverBound)
	}
	_, ok = waitFor(takeoverBound-time.Since(killedAt), func() bool {
		return follower.r.IsLeader() && follower.runs.Load() > 0
	})
	if !ok {
		t.Fatalf("%s did not take over within %v of the kill", follower.name, takeoverBound)
	}
	t.Logf("session killed: old leader stepped down after %v; takeover after %v", stepDown, time.Since(killedAt))
	// The old leader stays a follower (its retries meet ErrHeld); the new
	// leader keeps the job.
	checkExactlyOne(t, leader, follower, time.Second)
	if !follower.r.IsLeader() {
		t.Fatal("leadership moved back to the old leader")
	}
}

// TestPostgresUnreachable: a runner whose database is down never leads,
// and Stop returns promptly.
func TestPostgresUnreachable(t *testing.T) {
	c := pgtest.New(t)
	dsn := c.NewDatabase(t)
	n := newNode(t, pgSource(t, dsn), "a")
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	n.r.Start(context.Background())
	time.Sleep(3 * testRetry)
	if n.r.IsLeader() || n.runs.Load() != 0 {
		t.Fatal("led without a database")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if _, ok := waitFor(5*time.Second, func() bool { return n.r.IsLeader() && n.runs.Load() > 0 }); !ok {
		t.Fatal("did not lead once the database came back")
	}
	start := time.Now()
	n.r.Stop()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Stop took %v", d)
	}
}

// TestLocalRunner: a local runner leads at once; failing and panicking
// jobs keep running on their interval; Stop steps down.
func TestLocalRunner(t *testing.T) {
	var ok, failed, panicked atomic.Int64
	r, err := NewLocal([]Job{
		{Name: "ok", Interval: 20 * time.Millisecond, Run: func(context.Context) error { ok.Add(1); return nil }},
		{Name: "fail", Interval: 20 * time.Millisecond, Run: func(context.Context) error { failed.Add(1); return errors.New("boom") }},
		{Name: "panic", Interval: 20 * time.Millisecond, Run: func(context.Context) error { panicked.Add(1); panic("boom") }},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background())
	if !r.IsLeader() {
		if _, ok := waitFor(time.Second, r.IsLeader); !ok {
			t.Fatal("local runner does not lead")
		}
	}
	if _, done := waitFor(2*time.Second, func() bool {
		return ok.Load() >= 3 && failed.Load() >= 3 && panicked.Load() >= 3
	}); !done {
		t.Fatalf("runs: ok %d, failed %d, panicked %d", ok.Load(), failed.Load(), panicked.Load())
	}
	r.Stop()
	r.Stop()
	if r.IsLeader() {
		t.Fatal("stopped runner leads")
	}
	n := ok.Load()
	time.Sleep(60 * time.Millisecond)
	if ok.Load() != n {
		t.Fatal("job ran after Stop")
	}
}

// TestJobBoundedByInterval: a run's context ends after the job's interval.
func TestJobBoundedByInterval(t *testing.T) {
	got := make(chan time.Duration, 1)
	r, err := NewLocal([]Job{{Name: "slow", Interval: 100 * time.Millisecond, Run: func(ctx context.Context) error {
		start := time.Now()
		<-ctx.Done()
		select {
		case got <- time.Since(start):
		default:
		}
		return ctx.Err()
	}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background())
	defer r.Stop()
	select {
	case d := <-got:
		if d < 90*time.Millisecond || d > time.Second {
			t.Fatalf("run lasted %v, want about 100ms", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("run was not bounded")
	}
}

func TestNewErrors(t *testing.T) {
	run := func(context.Context) error { return nil }
	for name, jobs := range map[string][]Job{
		"no name":     {{Interval: time.Second, Run: run}},
		"no interval": {{Name: "x", Run: run}},
		"no run":      {{Name: "x", Interval: time.Second}},
	} {
		if _, err := NewLocal(jobs, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := NewLeased(nil, "x", nil, nil, Options{}); err == nil {
		t.Error("no lease source: no error")
	}
	if _, err := NewLeased(fakeSource{}, "", nil, nil, Options{}); err == nil {
		t.Error("empty lease name: no error")
	}
	r, err := NewLeased(fakeSource{}, "x", nil, nil, Options{})
	if err != nil || r.retry != DefaultRetryInterval {
		t.Errorf("defaults: %v, retry %v", err, r.retry)
	}
	r.Stop() // before Start: no-op
}

// fakeSource is a lease source for tests without a database.
type fakeSource struct{}

func (fakeSource) Lease(context.Context, sdk.LeaseRequest) (sdk.Lease, error) {
	return nil, sdk.ErrUnavailable
}

// scriptedSource hands out leases from a channel of results; every lease
// it grants is recorded.
type scriptedSource struct {
	results chan error // nil: grant a lease
	granted chan *fakeLease
}

func (s *scriptedSource) Lease(ctx context.Context, _ sdk.LeaseRequest) (sdk.Lease, error) {
	select {
	case err := <-s.results:
		if err != nil {
			return nil, err
		}
		l := &fakeLease{lost: make(chan struct{}), released: make(chan struct{})}
		s.granted <- l
		return l, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type fakeLease struct {
	lost, released chan struct{}
	jobsRunning    *atomic.Int64 // read at Release
	atRelease      atomic.Int64
	once           atomic.Bool
}

func (l *fakeLease) Lost() <-chan struct{} { return l.lost }
func (l *fakeLease) Err() error            { return sdk.ErrUnavailable }
func (l *fakeLease) Holder() string        { return "fake" }
func (l *fakeLease) Release(context.Context) error {
	if l.once.CompareAndSwap(false, true) {
		l.atRelease.Store(l.jobsRunning.Load())
		close(l.released)
	}
	return nil
}

// TestLeaseLifecycle: a node follows while the lease is held elsewhere or
// the store is down, leads once granted, and on a loss stops its jobs
// before releasing the lease, then competes again.
func TestLeaseLifecycle(t *testing.T) {
	src := &scriptedSource{results: make(chan error, 4), granted: make(chan *fakeLease, 2)}
	var running, runs atomic.Int64
	started := make(chan struct{}, 16)
	r, err := NewLeased(src, "x", []Job{{Name: "hold", Interval: time.Hour, Run: func(ctx context.Context) error {
		running.Add(1)
		defer running.Add(-1)
		runs.Add(1)
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}}}, nil, Options{RetryInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	src.results <- sdk.ErrHeld
	src.results <- sdk.ErrUnavailable
	src.results <- nil
	r.Start(context.Background())
	defer r.Stop()
	l := <-src.granted
	l.jobsRunning = &running
	<-started
	if !r.IsLeader() || r.Holder() != "fake" {
		t.Fatalf("granted lease: leader %v, holder %q", r.IsLeader(), r.Holder())
	}
	close(l.lost)
	select {
	case <-l.released:
	case <-time.After(5 * time.Second):
		t.Fatal("a lost lease was not released")
	}
	if n := l.atRelease.Load(); n != 0 {
		t.Fatalf("%d jobs still running when the lease was released", n)
	}
	if r.IsLeader() {
		t.Fatal("leads after losing the lease")
	}
	src.results <- nil // competes again and wins
	l2 := <-src.granted
	l2.jobsRunning = &running
	<-started
	r.Stop()
	if !l2.once.Load() {
		t.Fatal("Stop did not release the lease")
	}
	if runs.Load() != 2 {
		t.Fatalf("job ran %d times, want 2 (once per lease)", runs.Load())
	}
}
