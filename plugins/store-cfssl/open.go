package storecfssl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pkid/pkid/sdk"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DefaultTimeout bounds connecting to PostgreSQL or MySQL and waiting for
// an SQLite lock held by another process (CFSSL itself, for instance).
const DefaultTimeout = 5 * time.Second

// Options configures Open.
type Options struct {
	DBConfig
	// ReadOnly opens the database for reading only: writes fail with
	// sdk.ErrFailedPrecondition and nothing is ever written.
	ReadOnly bool
	// UnlabelledCA is the issuer label of rows whose ca_label is empty
	// (cfssl sign without -label writes ""): they read as that label and
	// a List for that label includes them. Empty: they read as "".
	UnlabelledCA string
	// Timeout is DefaultTimeout when zero.
	Timeout time.Duration
}

// Store is a CertStore on a CFSSL certdb.
type Store struct {
	d        dialect
	w        *sql.DB // writes (one connection on SQLite)
	r        *sql.DB // reads
	readOnly bool
	// unlabelled: Options.UnlabelledCA.
	unlabelled string
	now        func() time.Time
}

var _ sdk.CertStore = (*Store)(nil)

// Open connects to the certdb and checks that CFSSL's tables are there
// with every column CFSSL 1.6.5 uses. It creates nothing. Errors:
// ErrInvalidArgument (bad configuration, a missing SQLite file),
// ErrFailedPrecondition (tables or columns missing, a read-only SQLite file
// opened for writing), ErrUnavailable (PostgreSQL or MySQL unreachable).
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Check(); err != nil {
		return nil, fmt.Errorf("store-cfssl: %w: %w", err, sdk.ErrInvalidArgument)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	var (
		s   *Store
		err error
	)
	switch opts.Driver {
	case DriverSQLite:
		s, err = openSQLite(opts)
	case DriverMySQL:
		s, err = openMySQL(opts)
	default:
		s, err = openPostgres(opts)
	}
	if err != nil {
		return nil, err
	}
	s.unlabelled = opts.UnlabelledCA
	if err := s.checkSchema(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connections. Errors: the first close error.
func (s *Store) Close() error {
	if s.r == s.w {
		return s.w.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// SQLitePath returns the file a CFSSL sqlite3 data_source names: a path or
// a "file:" URI whose query (driver options) is dropped.
func SQLitePath(dataSource string) (string, error) {
	p := dataSource
	if rest, ok := strings.CutPrefix(p, "file:"); ok {
		p = rest
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		p = strings.TrimPrefix(p, "//")
	}
	if p == "" || strings.HasPrefix(p, ":memory:") || strings.Contains(dataSource, "mode=memory") {
		return "", fmt.Errorf("data_source %q: an in-memory database cannot be shared", dataSource)
	}
	return filepath.Abs(p)
}

func openSQLite(opts Options) (*Store, error) {
	path, err := SQLitePath(opts.DataSource)
	if err != nil {
		return nil, fmt.Errorf("store-cfssl: %w: %w", err, sdk.ErrInvalidArgument)
	}
	// The file must exist: opening would otherwise create an empty
	// database, and the store never creates one.
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("store-cfssl: sqlite3 data_source %s: no such file (the store never creates a certdb; CFSSL's migrations do): %w", path, sdk.ErrInvalidArgument)
	}
	if err != nil {
		return nil, fmt.Errorf("store-cfssl: sqlite3 data_source: %w: %w", err, sdk.ErrInvalidArgument)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("store-cfssl: sqlite3 data_source %s: not a regular file: %w", path, sdk.ErrInvalidArgument)
	}
	if !opts.ReadOnly {
		if err := checkWritable(path, fi); err != nil {
			return nil, fmt.Errorf("store-cfssl: sqlite3 data_source %s: %w: %w", path, err, sdk.ErrFailedPrecondition)
		}
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	base := "file:" + esc + fmt.Sprintf("?_pragma=busy_timeout(%d)", opts.Timeout.Milliseconds())
	r, err := sql.Open("sqlite", base+"&mode=ro")
	if err != nil {
		return nil, fmt.Errorf("store-cfssl: open %s: %w", path, err)
	}
	r.SetMaxIdleConns(max(2, runtime.GOMAXPROCS(0)))
	s := &Store{d: sqliteDialect{}, r: r, w: r, readOnly: opts.ReadOnly, now: time.Now}
	if !opts.ReadOnly {
		// mode=rw: never create the file. One writer connection: writes
		// never contend for SQLite's lock inside this process.
		w, err := sql.Open("sqlite", base+"&mode=rw&_txlock=immediate")
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("store-cfssl: open %s: %w", path, err)
		}
		w.SetMaxOpenConns(1)
		s.w = w
	}
	return s, nil
}

// checkWritable refuses a file nobody may write (mode bits, which bind even
// root) or that this process may not write, and a directory where SQLite
// could not create its journal.
func checkWritable(path string, fi os.FileInfo) error {
	if fi.Mode().Perm()&0o222 == 0 {
		return fmt.Errorf("the file is read-only (mode %04o)", fi.Mode().Perm())
	}
	if err := syscall.Access(path, 2); err != nil {
		return fmt.Errorf("the file is not writable: %w", err)
	}
	if err := syscall.Access(filepath.Dir(path), 2|1); err != nil {
		return fmt.Errorf("its directory is not writable (SQLite writes a journal there): %w", err)
	}
	return nil
}

func openPostgres(opts Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(opts.DataSource)
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, fmt.Errorf("store-cfssl: postgres data_source is not a valid connection string: %w", sdk.ErrInvalidArgument)
	}
	cfg.ConnectTimeout = opts.Timeout
	if opts.ReadOnly {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	return &Store{d: pgDialect{}, r: db, w: db, readOnly: opts.ReadOnly, now: time.Now}, nil
}

// certColumnList is every column of CFSSL 1.6.5's certificates table
// (both migrations), in scanCert's order.
const certColumnList = `serial_number, authority_key_identifier, ca_label, status, reason, expiry,
	revoked_at, pem, issued_at, not_before, metadata, sans, common_name`

// checkSchema selects every column the store uses from both tables.
func (s *Store) checkSchema(ctx context.Context) error {
	for _, q := range []struct{ table, cols string }{
		{"certificates", certColumnList},
		{"ocsp_responses", "serial_number, authority_key_identifier, body, expiry"},
	} {
		rows, err := s.r.QueryContext(ctx, "SELECT "+q.cols+" FROM "+q.table+" WHERE 1 = 0")
		if err == nil {
			err = rows.Close()
		}
		if err != nil {
			if u := s.d.unavailable(err); u != nil {
				return fmt.Errorf("store-cfssl: %s: %w: %w", s.d.name(), u, sdk.ErrUnavailable)
			}
			if !s.d.undefined(err) {
				return fmt.Errorf("store-cfssl: %s: reading CFSSL's %s table: %s", s.d.name(), q.table, oneLine(err))
			}
			return fmt.Errorf("store-cfssl: CFSSL's %s table is missing or lacks the columns CFSSL 1.6.5 creates (run CFSSL's certdb migrations; pkid never alters the schema): %v: %w",
				q.table, oneLine(err), sdk.ErrFailedPrecondition)
		}
	}
	return nil
}

// wrap prefixes err with the operation and marks unreachable-database
// errors as sdk.ErrUnavailable. Errors of a done ctx stay context errors.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		if u := s.d.unavailable(err); u != nil {
			return fmt.Errorf("store-cfssl: %s: %w: %w", op, sdk.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("store-cfssl: %s: %w", op, err)
}

// oneLine keeps an error message on one line (PostgreSQL adds details).
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// dialect is what differs between SQLite, PostgreSQL and MySQL.
type dialect interface {
	name() string
	// rebind turns "?" placeholders into the dialect's.
	rebind(q string) string
	// key is a key or text column argument, typed as CFSSL's drivers
	// write it (SQLite text, PostgreSQL bytea).
	key(s string) any
	// ts is a timestamp argument.
	ts(t time.Time) any
	// unavailable returns err when it means the database cannot be
	// reached, nil otherwise.
	unavailable(err error) error
	// undefined reports whether err names a missing table or column.
	undefined(err error) bool
	// conflictDoNothing ends an INSERT that skips a row whose primary
	// key (serial_number, authority_key_identifier) exists; the row
	// then counts as not affected.
	conflictDoNothing() string
	// conflictUpdate ends an INSERT that replaces cols of an existing
	// row instead.
	conflictUpdate(cols ...string) string
	// lockRow ends a SELECT that locks the row until the transaction
	// ends ("" where a transaction locks the whole database).
	lockRow() string
	// outOfRange reports a value the column cannot hold, where the
	// failed statement leaves the transaction usable (MySQL only; a
	// PostgreSQL transaction is aborted by any error).
	outOfRange(err error) bool
}

// onConflict is the standard SQL upsert clause SQLite and PostgreSQL share.
type onConflict struct{}

func (onConflict) conflictDoNothing() string {
	return "ON CONFLICT (serial_number, authority_key_identifier) DO NOTHING"
}

func (onConflict) conflictUpdate(cols ...string) string {
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = c + " = excluded." + c
	}
	return "ON CONFLICT (serial_number, authority_key_identifier) DO UPDATE SET " + strings.Join(set, ", ")
}

type sqliteDialect struct{ onConflict }

func (sqliteDialect) lockRow() string           { return "" }
func (sqliteDialect) outOfRange(err error) bool { return false }

func (sqliteDialect) name() string           { return "sqlite3" }
func (sqliteDialect) rebind(q string) string { return q }
func (sqliteDialect) key(s string) any       { return s }
func (sqliteDialect) ts(t time.Time) any     { return t.UTC().Format(sqliteTime) }
func (sqliteDialect) unavailable(err error) error {
	// SQLITE_BUSY after the busy timeout: another process holds the lock.
	if m := err.Error(); strings.Contains(m, "SQLITE_BUSY") || strings.Contains(m, "database is locked") {
		return err
	}
	return nil
}

func (sqliteDialect) undefined(err error) bool {
	m := err.Error()
	return strings.Contains(m, "no such table") || strings.Contains(m, "no such column")
}

type pgDialect struct{ onConflict }

func (pgDialect) lockRow() string           { return " FOR UPDATE" }
func (pgDialect) outOfRange(err error) bool { return false }

func (pgDialect) undefined(err error) bool {
	var pe *pgconn.PgError
	// undefined_table, undefined_column
	return errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "42703")
}

func (pgDialect) name() string { return "postgres" }
func (pgDialect) rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
func (pgDialect) key(s string) any   { return []byte(s) }
func (pgDialect) ts(t time.Time) any { return t.UTC() }
func (pgDialect) unavailable(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == "53300" {
			return err
		}
		return nil
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || pgconn.Timeout(err) {
		return err
	}
	return nil
}
