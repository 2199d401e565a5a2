package storepostgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkid/pkid/sdk"
)

// DefaultLeaseCheck is how often a lease's session is checked when the
// request leaves LeaseRequest.CheckInterval zero.
const DefaultLeaseCheck = 2 * time.Second

var _ sdk.Leaser = (*Store)(nil)

// LeaseKey is the advisory lock key of the lease name: a name of exactly 8
// bytes is its own key (big-endian), so the lease "pkidjobs" is the lock
// pkid's job runner took before leases went through the sdk and nodes of
// both kinds exclude each other during an upgrade; other names are hashed
// (FNV-1a).
func LeaseKey(name string) int64 {
	if len(name) == 8 {
		return int64(binary.BigEndian.Uint64([]byte(name)))
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// Lease takes the session-level advisory lock LeaseKey(req.Name) on a
// connection of its own (outside the pool, so leases never starve
// queries). The server frees the lock when that session ends, so the lease
// is exactly as long as the session: the lease pings it every
// CheckInterval and reports its end as a loss. Errors: sdk.ErrHeld (another
// session has the lock), sdk.ErrUnavailable (the server is unreachable),
// sdk.ErrInvalidArgument (empty name).
func (s *Store) Lease(ctx context.Context, req sdk.LeaseRequest) (sdk.Lease, error) {
	if req.Name == "" {
		return nil, fmt.Errorf("store-postgres: lease: empty name: %w", sdk.ErrInvalidArgument)
	}
	if LeaseKey(req.Name) == MigrationLockKey {
		// Holding it would block every node's schema check at start.
		return nil, fmt.Errorf("store-postgres: lease %q: its lock key is the migration lock's: %w", req.Name, sdk.ErrInvalidArgument)
	}
	check := req.CheckInterval
	if check <= 0 {
		check = DefaultLeaseCheck
	}
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "pkid-lease"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, wrap(ctx, "lease: connect", err)
	}
	key := LeaseKey(req.Name)
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		_ = conn.Close(context.Background())
		return nil, wrap(ctx, "lease: try lock", err)
	}
	if !got {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("store-postgres: lease %q: %w", req.Name, sdk.ErrHeld)
	}
	l := &pgLease{
		conn: conn, key: key, name: req.Name, holder: strconv.FormatUint(uint64(conn.PgConn().PID()), 10),
		timeout: cfg.ConnectTimeout, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if l.timeout <= 0 {
		l.timeout = DefaultConnectTimeout
	}
	s.leaseMu.Lock()
	if s.leases == nil {
		s.leases = map[*pgLease]bool{}
	}
	s.leases[l] = true
	s.leaseMu.Unlock()
	l.forget = func() {
		s.leaseMu.Lock()
		delete(s.leases, l)
		s.leaseMu.Unlock()
	}
	go l.watch(check)
	return l, nil
}

// pgLease is a held advisory lock. Only watch uses conn until it returns;
// then Release does.
type pgLease struct {
	conn    *pgx.Conn
	key     int64
	name    string
	holder  string
	timeout time.Duration
	forget  func() // drops the lease from its store's set

	lost chan struct{}
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	err      error
	released bool
}

// watch pings the session every check until Release or a failed ping.
func (l *pgLease) watch(check time.Duration) {
	defer close(l.done)
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(check, l.timeout))
		err := l.conn.Ping(ctx)
		cancel()
		if err == nil {
			continue
		}
		l.lose(fmt.Errorf("store-postgres: lease %q: session %s lost: %v: %w", l.name, l.holder, err, sdk.ErrUnavailable))
		_ = l.conn.Close(context.Background())
		return
	}
}

// lose reports the end of a lease not released (once).
func (l *pgLease) lose(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released || l.err != nil {
		return
	}
	l.err = err
	close(l.lost)
}

func (l *pgLease) Lost() <-chan struct{} { return l.lost }

func (l *pgLease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *pgLease) Holder() string { return l.holder }

// Release unlocks and closes the session; closing alone would free the
// lock too, the explicit unlock just does not wait for the server to
// notice the closed socket.
func (l *pgLease) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	l.mu.Unlock()
	l.forget()
	close(l.stop)
	<-l.done // soon: a ping in progress is bounded by its timeout
	if !l.conn.IsClosed() {
		_, _ = l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.key)
	}
	return l.conn.Close(ctx)
}
