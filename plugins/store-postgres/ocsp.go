package storepostgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/pkid/pkid/sdk"
)

// PutOCSP stores (or replaces) the pre-signed response for serial+AKI,
// committed before returning. Errors: ErrInvalidArgument (empty or
// non-decimal serial, empty AKI or response), ErrUnavailable, context
// errors.
func (s *Store) PutOCSP(ctx context.Context, rec *sdk.OCSPRecord) error {
	if rec == nil {
		return invalid("put ocsp", "nil record")
	}
	aki, err := checkKey("put ocsp", rec.Serial, rec.AKI)
	if err != nil {
		return err
	}
	if err := sdk.CheckSerial(rec.Serial); err != nil {
		return fmt.Errorf("store-postgres: put ocsp: %w", err)
	}
	if len(rec.Response) == 0 {
		return invalid("put ocsp", "response is required")
	}
	if !rec.NextUpdate.IsZero() && !storable(rec.NextUpdate) {
		return invalid("put ocsp", "next_update %v is outside years 1-9999", rec.NextUpdate)
	}
	// An upsert: safe to retry after a dead connection.
	err = s.retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO ocsp_responses (serial, aki, response, next_update)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (serial, aki) DO UPDATE
			SET response = excluded.response, next_update = excluded.next_update, updated_at = now()`,
			rec.Serial, aki, rec.Response, tsOrNull(rec.NextUpdate))
		return err
	})
	return wrap(ctx, "put ocsp", err)
}

// GetOCSP returns the stored response for serial+AKI. Errors:
// ErrInvalidArgument, ErrNotFound, ErrUnavailable, context errors.
func (s *Store) GetOCSP(ctx context.Context, serial, aki string) (*sdk.OCSPRecord, error) {
	aki, err := checkKey("get ocsp", serial, aki)
	if err != nil {
		return nil, err
	}
	rec := sdk.OCSPRecord{Serial: serial, AKI: aki}
	var next pgtype.Timestamptz
	err = s.retry(ctx, func() error {
		return s.pool.QueryRow(ctx,
			"SELECT response, next_update FROM ocsp_responses WHERE serial = $1 AND aki = $2",
			serial, aki).Scan(&rec.Response, &next)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store-postgres: get ocsp serial %s aki %s: %w", serial, aki, sdk.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "get ocsp", err)
	}
	rec.NextUpdate = fromTS(next)
	return &rec, nil
}
