package storesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pkid/pkid/sdk"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options configures Open.
type Options struct {
	// Path is the database file.
	Path string
	// BusyTimeout bounds the wait for a lock held by another process.
	BusyTimeout time.Duration
}

// Store is a CertStore (and BatchPutter) on one SQLite database.
type Store struct {
	// w is the only writer: one connection, so writes never contend on
	// SQLite's single write lock inside this process.
	w *sql.DB
	// r is the read pool; in WAL mode readers see the last commit and are
	// never blocked by the writer.
	r   *sql.DB
	now func() time.Time
	// stopSweep ends the expired-document sweeper; sweepDone is closed
	// when it has.
	stopSweep context.CancelFunc
	sweepDone chan struct{}
}

var (
	_ sdk.CertStore   = (*Store)(nil)
	_ sdk.BatchPutter = (*Store)(nil)
)

// Open creates the parent directory (0700) and the database file (0600) if
// missing, opens the writer and the read pool, and applies migrations.
// Errors: ErrInvalidArgument for an empty path, ErrFailedPrecondition for a
// database written by a newer pkid, otherwise file-system or SQLite errors.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, fmt.Errorf("store-sqlite: open: empty path: %w", sdk.ErrInvalidArgument)
	}
	path, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("store-sqlite: open: %w", err)
	}
	if err := createFile(path); err != nil {
		return nil, err
	}
	busy := opts.BusyTimeout.Milliseconds()
	w, err := sql.Open("sqlite", writerDSN(path, busy))
	if err != nil {
		return nil, fmt.Errorf("store-sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, now: time.Now}
	if err := checkWAL(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("store-sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	// Opened after migration so readers never see a half-built schema.
	r, err := sql.Open("sqlite", readerDSN(path, busy))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store-sqlite: open %s: %w", path, err)
	}
	// Open connections are not capped: a List callback may call Get, and a
	// cap would let nested reads deadlock.
	r.SetMaxIdleConns(max(4, 2*runtime.GOMAXPROCS(0)))
	s.r = r
	s.startSweeper(docSweepInterval)
	return s, nil
}

// Close closes the read pool and the writer. Errors: the first close error.
func (s *Store) Close() error {
	s.stopSweeper()
	return errors.Join(wrap("close", s.r.Close()), wrap("close", s.w.Close()))
}

// createFile makes the parent directory 0700 and an empty database file 0600
// unless they exist, so SQLite (which copies the main file's mode to its
// -wal and -shm files) never creates them with the umask's mode.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("store-sqlite: creating directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("store-sqlite: creating database: %w", err)
	}
	// An empty file is a valid empty SQLite database.
	return wrap("creating database", f.Close())
}

func writerDSN(path string, busyMS int64) string {
	return dsn(path,
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyMS),
		"_pragma=journal_mode(WAL)",
		// FULL: the WAL is fsynced at every commit, so a returned Put
		// survives power loss, not only a process crash.
		"_pragma=synchronous(FULL)",
		"_pragma=foreign_keys(1)",
		// IMMEDIATE: take the write lock at BEGIN, so a transaction never
		// fails half-way upgrading a read lock against another process.
		"_txlock=immediate",
	)
}

func readerDSN(path string, busyMS int64) string {
	return dsn(path,
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyMS),
		"_pragma=foreign_keys(1)",
		"_pragma=query_only(1)",
	)
}

// dsn opens path as a file: URI with the path percent-escaped, so any file
// name works ('?' would otherwise start the driver's parameters, '#' a URI
// fragment).
func dsn(path string, params ...string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	return "file:" + esc + "?" + strings.Join(params, "&")
}

// checkWAL verifies the journal mode took effect (it silently does not on
// some file systems), since concurrent reads rely on it.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	return nil
}
