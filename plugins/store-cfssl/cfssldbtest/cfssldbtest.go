// Package cfssldbtest builds CFSSL certdbs for tests the way a CFSSL
// deployment builds them: by running CFSSL 1.6.5's own goose migrations
// (read from the Go module cache, never copied) on a fresh SQLite file or
// PostgreSQL or MySQL database. When CFSSL's source is not in the module cache the
// test is skipped, or fails under CI=true.
package cfssldbtest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql" // "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
	"github.com/pkid/pkid/internal/testtool"
	_ "modernc.org/sqlite" // "sqlite"
)

// Version is the CFSSL release whose schema the tests use.
const Version = "v1.6.5"

// Migrations returns the "Up" statements of CFSSL's migrations for dialect
// ("sqlite", "pg" or "mysql"), in order.
func Migrations(t testing.TB, dialect string) []string {
	t.Helper()
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			testtool.Missing(t, "go env GOMODCACHE", err)
		}
		cache = strings.TrimSpace(string(out))
	}
	dir := filepath.Join(cache, "github.com", "cloudflare", "cfssl@"+Version, "certdb", dialect, "migrations")
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no migrations in %s", dir)
	}
	if err != nil {
		testtool.Missing(t, "CFSSL "+Version+" source in the module cache (go mod download github.com/cloudflare/cfssl@"+Version+")", err)
	}
	sort.Strings(files)
	var stmts []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		up, _, _ := strings.Cut(string(data), "-- +goose Down")
		_, up, _ = strings.Cut(up, "-- +goose Up")
		for _, s := range strings.Split(up, ";") {
			var lines []string
			for _, l := range strings.Split(s, "\n") {
				if !strings.HasPrefix(strings.TrimSpace(l), "--") {
					lines = append(lines, l)
				}
			}
			if s := strings.TrimSpace(strings.Join(lines, "\n")); s != "" {
				stmts = append(stmts, s)
			}
		}
	}
	return stmts
}

// Apply runs CFSSL's migrations for dialect on db.
func Apply(t testing.TB, db *sql.DB, dialect string) {
	t.Helper()
	for _, s := range Migrations(t, dialect) {
		if _, err := db.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("CFSSL migration %q: %v", s, err)
		}
	}
}

// NewSQLite returns the path of a new SQLite certdb in a temporary
// directory, migrated as CFSSL's goose migrations do.
func NewSQLite(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "certdb.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	Apply(t, db, "sqlite")
	return path
}

// MigratePostgres applies CFSSL's PostgreSQL migrations to the database dsn
// names.
func MigratePostgres(t testing.TB, dsn string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	Apply(t, db, "pg")
}

// MigrateMySQL applies CFSSL's MySQL migrations to the database dsn names
// (a go-sql-driver/mysql DSN).
func MigrateMySQL(t testing.TB, dsn string) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	Apply(t, db, "mysql")
}

// WriteDBConfig writes a CFSSL db-config file into dir and returns its path.
func WriteDBConfig(t testing.TB, dir, driver, dataSource string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"driver": driver, "data_source": dataSource})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "db-config.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
