// Package jobs runs the daemon's periodic jobs (expiry sweeps, CRL
// regeneration and OCSP refresh) on exactly one node of a cluster at a time.
//
// With a shared store (NewLeased) the nodes elect a leader through a named
// lease the store offers (sdk.Leaser; store-postgres: a session-level
// advisory lock): the node holding the lease runs the jobs, the others
// retry every RetryInterval. When the leader stops (Stop releases the lease)
// or loses it (the store's session or the plugin process died), a follower
// takes it on its next retry. With a single node (NewLocal) the jobs simply
// run.
//
// Exclusivity is as strong as the lease: a store notices a lost session on
// its next check (every RetryInterval, plus the check's timeout) and the old
// leader then cancels its jobs, so jobs must be idempotent and honour their
// context.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/sdk"
)

// DefaultLeaseName is the lease the daemon's job runner takes. For
// store-postgres it is the advisory lock key of earlier releases, so old and
// new nodes exclude each other during an upgrade.
const DefaultLeaseName = "pkidjobs"

// DefaultRetryInterval is Options.RetryInterval when it is zero.
const DefaultRetryInterval = 2 * time.Second

// LeaseSource offers named leases: a certstore implementing sdk.Leaser (the
// plugin host's view of one does when its instance reported the
// capability). Lease errors: sdk.ErrHeld (another node leads), anything
// else (sdk.ErrUnavailable: the store is down) is logged and retried.
type LeaseSource interface {
	Lease(ctx context.Context, req sdk.LeaseRequest) (sdk.Lease, error)
}

// Job is one periodic task.
type Job struct {
	// Name identifies the job in logs.
	Name string
	// Interval is the time between the starts of two runs; it also bounds
	// one run (its context times out after Interval).
	Interval time.Duration
	// Run does the work. Errors are logged; the job runs again on its next
	// tick. Run must return soon after ctx is done.
	Run func(ctx context.Context) error
}

// Options tunes a leased runner.
type Options struct {
	// RetryInterval is how often a follower retries the lease and the store
	// checks the leader's session (default DefaultRetryInterval).
	RetryInterval time.Duration
}

// Runner runs jobs while this node is the leader. Start it once; Stop it
// once. Its methods are safe for concurrent use.
type Runner struct {
	src       LeaseSource // nil for a local runner
	leaseName string
	jobs      []Job
	log       hclog.Logger
	retry     time.Duration

	leader atomic.Bool
	holder atomic.Pointer[string] // the held lease's holder, nil if none

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewLeased returns a runner that elects a leader among the nodes sharing
// src's store through the lease name. Errors: a nil source, an empty name,
// or an invalid job (empty name, non-positive interval, nil Run).
func NewLeased(src LeaseSource, name string, jobs []Job, log hclog.Logger, opts Options) (*Runner, error) {
	if src == nil {
		return nil, errors.New("jobs: no lease source")
	}
	if name == "" {
		return nil, errors.New("jobs: empty lease name")
	}
	r, err := newRunner(jobs, log)
	if err != nil {
		return nil, err
	}
	r.src, r.leaseName = src, name
	if opts.RetryInterval > 0 {
		r.retry = opts.RetryInterval
	}
	return r, nil
}

// NewLocal returns a runner for a single node: it is the leader from Start
// to Stop, without any lease. Errors: an invalid job.
func NewLocal(jobs []Job, log hclog.Logger) (*Runner, error) {
	return newRunner(jobs, log)
}

func newRunner(jobs []Job, log hclog.Logger) (*Runner, error) {
	for i, j := range jobs {
		switch {
		case j.Name == "":
			return nil, fmt.Errorf("jobs: job %d has no name", i)
		case j.Interval <= 0:
			return nil, fmt.Errorf("jobs: job %q: interval must be positive, not %v", j.Name, j.Interval)
		case j.Run == nil:
			return nil, fmt.Errorf("jobs: job %q has no run function", j.Name)
		}
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Runner{jobs: append([]Job(nil), jobs...), log: log, retry: DefaultRetryInterval}, nil
}

// Start begins the election (or, for a local runner, the jobs) in the
// background. It returns at once; later calls do nothing. Cancelling ctx
// has the effect of Stop, except that Stop also waits.
func (r *Runner) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return
	}
	r.started = true
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		if r.src == nil {
			r.runLocal(ctx)
		} else {
			r.elect(ctx)
		}
	}()
}

// Stop cancels the running jobs, waits for them, and releases the lease so
// another node takes over on its next retry. It is safe to call more than
// once, and before Start.
func (r *Runner) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.started = true // a stopped runner does not start again
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// IsLeader reports whether this node currently runs the jobs.
func (r *Runner) IsLeader() bool { return r.leader.Load() }

// Holder returns the store's name for the session holding this node's
// lease (sdk.Lease.Holder; store-postgres: the backend pid), or "" when
// this node holds none. Tests use it to kill that session.
func (r *Runner) Holder() string {
	if h := r.holder.Load(); h != nil {
		return *h
	}
	return ""
}

// runLocal runs the jobs until ctx is done.
func (r *Runner) runLocal(ctx context.Context) {
	r.leader.Store(true)
	r.log.Info("running periodic jobs (single node, no leader election)", "jobs", len(r.jobs))
	wait := r.runJobs(ctx)
	<-ctx.Done()
	r.leader.Store(false)
	wait()
}

// elect tries the lease every retry interval and leads while it holds it,
// until ctx is done.
func (r *Runner) elect(ctx context.Context) {
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(ctx, max(r.retry, 5*time.Second))
		lease, err := r.src.Lease(actx, sdk.LeaseRequest{Name: r.leaseName, CheckInterval: r.retry})
		cancel()
		switch {
		case err == nil:
			r.lead(ctx, lease)
		case ctx.Err() != nil:
			return
		case errors.Is(err, sdk.ErrHeld):
			r.log.Trace("job leader election: another node leads", "lease", r.leaseName)
		default:
			r.log.Warn("job leader election: cannot take the lease; retrying", "error", err, "retry", r.retry)
		}
		// A node that just lost its lease also waits a round, so a
		// follower that saw it free takes it first.
		sleep(ctx, r.retry)
	}
}

// lead runs the jobs while the lease lasts, until ctx is done or the lease
// is lost; it stops the jobs before releasing the lease, so two nodes never
// run them at once by this node's doing.
func (r *Runner) lead(ctx context.Context, lease sdk.Lease) {
	holder := lease.Holder()
	r.holder.Store(&holder)
	r.leader.Store(true)
	r.log.Info("job leader: this node runs the periodic jobs", "jobs", len(r.jobs), "holder", holder)
	jctx, cancel := context.WithCancel(ctx)
	wait := r.runJobs(jctx)
	select {
	case <-ctx.Done():
		r.log.Info("job leader: stopping; releasing the lease")
	case <-lease.Lost():
		r.log.Warn("job leader: lost the lease; stepping down", "error", lease.Err())
	}
	r.leader.Store(false)
	cancel()
	wait()
	rctx, rcancel := context.WithTimeout(context.Background(), max(r.retry, 2*time.Second))
	defer rcancel()
	if err := lease.Release(rctx); err != nil {
		r.log.Debug("job leader: release failed (the session's end frees the lease)", "error", err)
	}
	r.holder.Store(nil)
}

// runJobs starts one goroutine per job, each running its job at once and
// then every interval until ctx is done. The returned function waits for
// them.
func (r *Runner) runJobs(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	for _, j := range r.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(j.Interval)
			defer t.Stop()
			for {
				r.runOnce(ctx, j)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	return wg.Wait
}

// runOnce runs j bounded by its interval, logging errors and panics.
func (r *Runner) runOnce(ctx context.Context, j Job) {
	if ctx.Err() != nil {
		return
	}
	jctx, cancel := context.WithTimeout(ctx, j.Interval)
	defer cancel()
	start := time.Now()
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return j.Run(jctx)
	}()
	if err != nil {
		if ctx.Err() != nil {
			r.log.Debug("job cancelled", "job", j.Name, "error", err)
			return
		}
		r.log.Error("job failed", "job", j.Name, "duration", time.Since(start), "error", err)
		return
	}
	r.log.Debug("job done", "job", j.Name, "duration", time.Since(start))
}

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
