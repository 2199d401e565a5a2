// Package jobs runs the daemon's periodic jobs (expiry sweeps, and later CRL
// regeneration and OCSP refresh) on exactly one node of a cluster at a time.
//
// With PostgreSQL (NewPostgres) the nodes elect a leader through a
// session-level advisory lock held on a dedicated connection: the node
// holding the lock runs the jobs, the others retry every RetryInterval. When
// the leader stops (Stop releases the lock) or its session dies (the server
// frees a dead session's locks), a follower takes the lock on its next
// retry. With a single node (NewLocal) the jobs simply run.
//
// Exclusivity is as strong as the lock: if the leader's session is killed,
// the old leader notices on its next health check (at most RetryInterval
// later, plus the ping timeout) and cancels its jobs, so jobs must be
// idempotent and honour their context.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
)

// DefaultLockKey is the advisory lock key ("pkidjobs" in ASCII) the daemon's
// job runner uses. It differs from the store's migration lock key.
const DefaultLockKey int64 = 0x706b69646a6f6273

// DefaultRetryInterval is Options.RetryInterval when it is zero.
const DefaultRetryInterval = 2 * time.Second

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

// Options tunes a PostgreSQL runner.
type Options struct {
	// RetryInterval is how often a follower retries the lock and a leader
	// checks its connection (default DefaultRetryInterval).
	RetryInterval time.Duration
}

// Runner runs jobs while this node is the leader. Start it once; Stop it
// once. Its methods are safe for concurrent use.
type Runner struct {
	dsn     string // "" for a local runner
	lockKey int64
	jobs    []Job
	log     hclog.Logger
	retry   time.Duration

	leader atomic.Bool
	pid    atomic.Uint32 // backend pid of the election connection, 0 if none

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewPostgres returns a runner that elects a leader among the nodes sharing
// the database at dsn through the advisory lock lockKey. Errors: an empty
// DSN, or an invalid job (empty name, non-positive interval, nil Run).
func NewPostgres(dsn string, lockKey int64, jobs []Job, log hclog.Logger, opts Options) (*Runner, error) {
	if dsn == "" {
		return nil, errors.New("jobs: empty dsn")
	}
	if _, err := pgx.ParseConfig(dsn); err != nil {
		return nil, fmt.Errorf("jobs: dsn: %w", err)
	}
	r, err := newRunner(jobs, log)
	if err != nil {
		return nil, err
	}
	r.dsn, r.lockKey = dsn, lockKey
	if opts.RetryInterval > 0 {
		r.retry = opts.RetryInterval
	}
	return r, nil
}

// NewLocal returns a runner for a single node: it is the leader from Start
// to Stop, without any lock. Errors: an invalid job.
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
		if r.dsn == "" {
			r.runLocal(ctx)
		} else {
			r.elect(ctx)
		}
	}()
}

// Stop cancels the running jobs, waits for them, and releases the lock so
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

// BackendPID returns the PostgreSQL backend process id of the election
// connection, or 0 when there is none (a local runner, or between
// connections). Tests use it to kill the session with pg_terminate_backend.
func (r *Runner) BackendPID() uint32 { return r.pid.Load() }

// runLocal runs the jobs until ctx is done.
func (r *Runner) runLocal(ctx context.Context) {
	r.leader.Store(true)
	r.log.Info("running periodic jobs (single node, no leader election)", "jobs", len(r.jobs))
	wait := r.runJobs(ctx)
	<-ctx.Done()
	r.leader.Store(false)
	wait()
}

// elect connects, competes for the lock, leads while the session lives and
// starts over when it dies, until ctx is done.
func (r *Runner) elect(ctx context.Context) {
	for ctx.Err() == nil {
		conn, err := r.connect(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("job leader election: cannot connect; retrying", "error", err, "retry", r.retry)
			}
			sleep(ctx, r.retry)
			continue
		}
		r.pid.Store(conn.PgConn().PID())
		led := r.follow(ctx, conn)
		r.pid.Store(0)
		r.release(conn)
		if led {
			// A node that just lost its session waits a round, so a
			// follower that saw the lock free takes it first.
			sleep(ctx, r.retry)
		}
	}
}

// connect opens the dedicated election connection.
func (r *Runner) connect(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, max(r.retry, 5*time.Second))
	defer cancel()
	conn, err := pgx.Connect(cctx, r.dsn)
	if err != nil {
		return nil, fmt.Errorf("jobs: connect: %w", err)
	}
	return conn, nil
}

// follow tries the lock every retry interval on conn; on success it leads
// until the session dies or ctx is done. It returns when conn is no longer
// usable or ctx is done, reporting whether this node led.
func (r *Runner) follow(ctx context.Context, conn *pgx.Conn) (led bool) {
	for {
		got, err := r.tryLock(ctx, conn)
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			r.log.Warn("job leader election: lock query failed; reconnecting", "error", err)
			sleep(ctx, r.retry)
			return false
		}
		if got {
			r.lead(ctx, conn)
			return true
		}
		if !sleep(ctx, r.retry) {
			return false
		}
	}
}

// tryLock runs pg_try_advisory_lock, bounded by the retry interval.
func (r *Runner) tryLock(ctx context.Context, conn *pgx.Conn) (bool, error) {
	qctx, cancel := context.WithTimeout(ctx, r.retry)
	defer cancel()
	var got bool
	if err := conn.QueryRow(qctx, "SELECT pg_try_advisory_lock($1)", r.lockKey).Scan(&got); err != nil {
		return false, fmt.Errorf("jobs: try lock: %w", err)
	}
	return got, nil
}

// lead runs the jobs while conn's session (and so the lock) lives, checking
// it every retry interval, until ctx is done or a check fails.
func (r *Runner) lead(ctx context.Context, conn *pgx.Conn) {
	r.leader.Store(true)
	r.log.Info("job leader: this node runs the periodic jobs", "jobs", len(r.jobs), "backend_pid", conn.PgConn().PID())
	jctx, cancel := context.WithCancel(ctx)
	wait := r.runJobs(jctx)
	defer func() {
		r.leader.Store(false)
		cancel()
		wait()
	}()
	t := time.NewTicker(r.retry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.log.Info("job leader: stopping; releasing the lock")
			return
		case <-t.C:
			pctx, pcancel := context.WithTimeout(ctx, r.retry)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil && ctx.Err() == nil {
				r.log.Warn("job leader: lost the database session; stepping down", "error", err)
				return
			}
		}
	}
}

// release unlocks (a no-op if this session does not hold the lock) and
// closes conn; closing alone would free the lock too, the explicit unlock
// just does not wait for the server to notice the closed socket.
func (r *Runner) release(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if !conn.IsClosed() {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", r.lockKey); err != nil {
			r.log.Debug("job leader election: unlock failed (the session is gone or closing frees it)", "error", err)
		}
	}
	_ = conn.Close(ctx)
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
