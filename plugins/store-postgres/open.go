package storepostgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pkid/pkid/sdk"
)

// Options configures Open.
type Options struct {
	// DSN is a pgx connection string (URL or key=value pairs).
	DSN string
	// MaxConns caps the pool; 0 keeps pgxpool's default (the larger of 4
	// and the CPU count).
	MaxConns int32
	// ConnectTimeout bounds each new connection (and the liveness ping of
	// an idle one); 0 means DefaultConnectTimeout. While the server is
	// unreachable, operations fail with sdk.ErrUnavailable within about
	// this long.
	ConnectTimeout time.Duration
}

// Store is a CertStore (and BatchPutter and Leaser) on one PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
	// attempts bounds the tries of one operation whose pooled connection
	// turned out dead (server restarted): one per pooled connection + 1.
	attempts int

	leaseMu sync.Mutex
	leases  map[*pgLease]bool // held; Close releases them

	// stopSweep ends the expired-document sweeper; sweepDone is closed
	// when it has.
	stopSweep context.CancelFunc
	sweepDone chan struct{}
}

var (
	_ sdk.CertStore   = (*Store)(nil)
	_ sdk.BatchPutter = (*Store)(nil)
)

// Open creates the pool and applies migrations. Errors: ErrInvalidArgument
// for an unparsable DSN (the message does not quote it), ErrUnavailable when
// the server cannot be reached, ErrFailedPrecondition for a database written
// by a newer pkid, otherwise PostgreSQL errors.
func Open(ctx context.Context, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("store-postgres: open: invalid dsn: %s: %w", parseErrorDetail(err), sdk.ErrInvalidArgument)
	}
	timeout := opts.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	cfg.ConnConfig.ConnectTimeout = timeout
	cfg.PingTimeout = timeout
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
		cfg.MinConns = min(cfg.MinConns, cfg.MaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap(ctx, "open", err)
	}
	s := &Store{pool: pool, now: time.Now, attempts: int(pool.Config().MaxConns) + 1}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s.startSweeper(docSweepInterval)
	return s, nil
}

// Close closes the pool, waiting for connections in use to be released.
// It never fails.
func (s *Store) Close() error {
	s.stopSweeper()
	s.leaseMu.Lock()
	held := s.leases
	s.leases = nil
	s.leaseMu.Unlock()
	for l := range held {
		// Its holder must hear that the lease ended, not wait on it.
		l.lose(fmt.Errorf("store-postgres: lease %q: store closed: %w", l.name, sdk.ErrUnavailable))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = l.Release(ctx)
		cancel()
	}
	s.pool.Close()
	return nil
}
