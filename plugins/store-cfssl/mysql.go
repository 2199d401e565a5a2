package storecfssl

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pkid/pkid/sdk"
)

// mysqlConfig parses a CFSSL mysql data_source (go-sql-driver/mysql's DSN,
// user:password@tcp(host:port)/dbname?parseTime=true). Errors never quote
// the DSN, which holds the password.
func mysqlConfig(dataSource string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dataSource)
	if err != nil {
		msg := "mysql data_source is not a valid DSN (want user:password@tcp(host:port)/dbname?parseTime=true)"
		// The driver's parse errors name the part that is wrong, not
		// the DSN; keep the reason unless it echoes the password.
		if e := oneLine(err); !strings.Contains(e, dsnPassword(dataSource)) {
			msg += ": " + e
		}
		return nil, errors.New(msg)
	}
	if cfg.DBName == "" {
		return nil, errors.New("mysql data_source names no database (want user:password@tcp(host:port)/dbname)")
	}
	return cfg, nil
}

// dsnPassword is what may be the password in a DSN that does not parse:
// the user info after its first colon, or the whole DSN when there is none
// to find.
func dsnPassword(dsn string) string {
	at := strings.LastIndexByte(dsn, '@')
	if at < 0 {
		return dsn
	}
	if _, pw, ok := strings.Cut(dsn[:at], ":"); ok && pw != "" {
		return pw
	}
	return dsn
}

// openMySQL connects as CFSSL would with the same data_source: the
// session's time zone and the driver's location stay what the DSN says,
// since TIMESTAMP columns are converted through them and CFSSL's rows must
// read back as the instants CFSSL wrote.
func openMySQL(opts Options) (*Store, error) {
	cfg, err := mysqlConfig(opts.DataSource)
	if err != nil {
		return nil, fmt.Errorf("store-cfssl: %w: %w", err, sdk.ErrInvalidArgument)
	}
	// Timestamps scan into time.Time (CFSSL requires parseTime=true as
	// well), and an upsert that changes nothing counts no rows (Put's
	// conflict check depends on it).
	cfg.ParseTime = true
	cfg.ClientFoundRows = false
	cfg.Timeout = opts.Timeout
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("store-cfssl: mysql data_source: %s: %w", oneLine(err), sdk.ErrInvalidArgument)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	// Below MySQL's wait_timeout, so that an idle connection the server
	// dropped is not the one handed out.
	db.SetConnMaxIdleTime(time.Minute)
	return &Store{d: mysqlDialect{}, r: db, w: db, readOnly: opts.ReadOnly, now: time.Now}, nil
}

// MySQL server error numbers the store tells apart.
const (
	erTooManyConnections  = 1040
	erServerShutdown      = 1053
	erBadField            = 1054
	erNoSuchTable         = 1146
	erLockWaitTimeout     = 1205
	erConnectionKilled    = 1927
	erTruncatedWrongValue = 1292
	erDataTooLong         = 1406
)

type mysqlDialect struct{}

func (mysqlDialect) name() string           { return "mysql" }
func (mysqlDialect) rebind(q string) string { return q }
func (mysqlDialect) key(s string) any       { return s }

// ts is sent as is: the driver writes the zero time as CFSSL's zero date
// '0000-00-00' (what CFSSL stores for a good certificate's revoked_at) and
// other times in the DSN's location.
func (mysqlDialect) ts(t time.Time) any { return t }

func (mysqlDialect) conflictDoNothing() string {
	// Not INSERT IGNORE: that would also turn bad values into warnings.
	return "ON DUPLICATE KEY UPDATE serial_number = serial_number"
}

func (mysqlDialect) conflictUpdate(cols ...string) string {
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = c + " = VALUES(" + c + ")"
	}
	return "ON DUPLICATE KEY UPDATE " + strings.Join(set, ", ")
}

func (mysqlDialect) lockRow() string { return " FOR UPDATE" }

func (mysqlDialect) undefined(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == erNoSuchTable || me.Number == erBadField)
}

func (mysqlDialect) unavailable(err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erTooManyConnections, erServerShutdown, erConnectionKilled, erLockWaitTimeout:
			return err
		}
		return nil
	}
	var ne net.Error
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return err
	}
	return nil
}

// outOfRange reports a value the column cannot hold: with CFSSL's schema,
// a time outside TIMESTAMP's range (1970 to 2038-01-19 on MariaDB before
// 11.5 and on MySQL) or a PEM or response longer than varbinary(4096).
func (mysqlDialect) outOfRange(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == erTruncatedWrongValue || me.Number == erDataTooLong)
}
