package storesqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"github.com/pkid/pkid/internal/migrations"
	"time"

	"github.com/pkid/pkid/sdk"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// schemaSteps returns the embedded steps in version order.
func schemaSteps() ([]migrations.Step, error) { return migrations.Load(migrationFS, "migrations") }

// SchemaVersion is the newest schema this build knows.
func SchemaVersion() int {
	ms, _ := schemaSteps()
	return migrations.Latest(ms)
}

// migrate applies the missing steps in one transaction. Errors: a database
// whose version is newer than this build wraps sdk.ErrFailedPrecondition.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := schemaSteps()
	if err != nil {
		return fmt.Errorf("store-sqlite: migrations: %w", err)
	}
	// One transaction (BEGIN IMMEDIATE): two processes opening a new file
	// at once serialise, and a failed step leaves nothing behind.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("migrate", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return wrap("migrate", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
		return wrap("migrate", err)
	}
	latest := len(ms)
	if cur > latest {
		return fmt.Errorf("store-sqlite: database schema version %d is newer than this build supports (%d); use a newer pkid: %w",
			cur, latest, sdk.ErrFailedPrecondition)
	}
	for _, m := range ms[cur:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("store-sqlite: migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
			m.Version, time.Now().Unix()); err != nil {
			return wrap("migrate", err)
		}
	}
	return wrap("migrate", tx.Commit())
}
