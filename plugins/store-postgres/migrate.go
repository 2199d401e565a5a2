package storepostgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"github.com/pkid/pkid/internal/migrations"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pkid/pkid/sdk"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// MigrationLockKey is the pg_advisory_xact_lock key ("pkidmigr" in ASCII)
// held while migrating, so concurrent starts of several nodes serialise.
const MigrationLockKey int64 = 0x706b69646d696772

// migrationsTable records applied versions. The pkid_ prefix keeps it apart
// from other tools' schema_migrations in a shared database.
const migrationsTable = "pkid_schema_migrations"

// schemaSteps returns the embedded steps in version order.
func schemaSteps() ([]migrations.Step, error) { return migrations.Load(migrationFS, "migrations") }

// SchemaVersion is the newest schema this build knows.
func SchemaVersion() int {
	ms, _ := schemaSteps()
	return migrations.Latest(ms)
}

// migrate applies the missing steps in one transaction that first takes
// the advisory lock MigrationLockKey: a node starting while another
// migrates waits, then finds the schema current. A failed step leaves
// nothing behind (PostgreSQL DDL is transactional). Errors: a database whose
// version is newer than this build wraps sdk.ErrFailedPrecondition; an
// unreachable server wraps sdk.ErrUnavailable.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := schemaSteps()
	if err != nil {
		return fmt.Errorf("store-postgres: migrations: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", MigrationLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+migrationsTable+` (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		var cur int
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM "+migrationsTable).Scan(&cur); err != nil {
			return err
		}
		if latest := len(ms); cur > latest {
			return fmt.Errorf("store-postgres: database schema version %d is newer than this build supports (%d); use a newer pkid: %w",
				cur, latest, sdk.ErrFailedPrecondition)
		}
		for _, m := range ms[cur:] {
			// No arguments: the simple protocol, so a file may hold
			// several statements.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO "+migrationsTable+" (version, name) VALUES ($1, $2)",
				m.Version, m.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, sdk.ErrFailedPrecondition) {
		return err
	}
	return wrap(ctx, "migrate", err)
}
