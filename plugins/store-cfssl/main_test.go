package storecfssl

import (
	"context"
	"testing"

	"github.com/pkid/pkid/internal/pgtest"
	"github.com/pkid/pkid/plugins/store-cfssl/cfssldbtest"
	"github.com/pkid/pkid/sdk"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

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
	{"PostgreSQL", func(t testing.TB) DBConfig {
		dsn := pgtest.Shared(t).NewDatabase(t)
		cfssldbtest.MigratePostgres(t, dsn)
		return DBConfig{Driver: DriverPostgres, DataSource: dsn}
	}},
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
