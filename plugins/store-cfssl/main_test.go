package storecfssl

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pkid/pkid/internal/mysqltest"
	"github.com/pkid/pkid/internal/pgtest"
	"github.com/pkid/pkid/plugins/store-cfssl/cfssldbtest"
	"github.com/pkid/pkid/sdk"
)

// TestMain stops the shared PostgreSQL and MariaDB servers at the end.
func TestMain(m *testing.M) { os.Exit(mysqltest.Run(runFunc(func() int { return pgtest.Run(m) }))) }

type runFunc func() int

func (f runFunc) Run() int { return f() }

// backend makes fresh CFSSL certdbs of one dialect.
type backend struct {
	name string
	// newDB returns a db-config for a fresh, migrated database.
	newDB func(t testing.TB) DBConfig
}

var backends = []backend{
	{"SQLite", func(t testing.TB) DBConfig {
		return DBConfig{Driver: DriverSQLite, DataSource: cfssldbtest.NewSQLite(t)}
	}},
	{"PostgreSQL", newPGSchema},
	{"MySQL", newMySQLDB},
}

// newMySQLDB migrates CFSSL's tables into a fresh database of the shared
// MariaDB server.
func newMySQLDB(t testing.TB) DBConfig {
	t.Helper()
	dsn := mysqltest.Shared(t).NewDatabase(t)
	cfssldbtest.MigrateMySQL(t, dsn)
	return DBConfig{Driver: DriverMySQL, DataSource: dsn}
}

// pgBase is one database for the package's tests; each test gets a schema
// of its own in it (much faster than a database each).
var (
	pgBaseOnce sync.Once
	pgBase     string
	pgSchemas  atomic.Int64
)

// newPGSchema migrates CFSSL's tables into a fresh schema and returns a
// DSN whose search_path selects it.
func newPGSchema(t testing.TB) DBConfig {
	t.Helper()
	pgBaseOnce.Do(func() { pgBase = pgtest.Shared(t).NewDatabase(t) })
	if pgBase == "" {
		t.Fatal("no shared PostgreSQL database")
	}
	schema := fmt.Sprintf("t%d", pgSchemas.Add(1))
	db, err := sql.Open("pgx", pgBase)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec("CREATE SCHEMA " + schema)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(pgBase, "?") {
		sep = "&"
	}
	dsn := pgBase + sep + "search_path=" + schema
	cfssldbtest.MigratePostgres(t, dsn)
	return DBConfig{Driver: DriverPostgres, DataSource: dsn}
}

func openTest(t testing.TB, c DBConfig) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{DBConfig: c})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// blockJSON is a certstore block's decoded value.
func blockJSON(c DBConfig) map[string]any {
	return map[string]any{"db_config": nil, "driver": c.Driver, "data_source": c.DataSource, "read_only": nil, "unlabelled_ca": nil, "timeout": nil}
}

var _ sdk.CertStore = (*Store)(nil)
