package storesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pkid/pkid/sdk"
)

// PutOCSP stores (or replaces) the pre-signed response for serial+AKI,
// durably before returning. Errors: ErrInvalidArgument (empty AKI or
// response, serial refused by sdk.CheckSerial), ErrUnavailable, context errors.
func (s *Store) PutOCSP(ctx context.Context, rec *sdk.OCSPRecord) error {
	if rec == nil {
		return invalid("put ocsp", "nil record")
	}
	aki, err := checkKey("put ocsp", rec.Serial, rec.AKI)
	if err != nil {
		return err
	}
	if err := sdk.CheckSerial(rec.Serial); err != nil {
		return fmt.Errorf("store-sqlite: put ocsp: %w", err)
	}
	if len(rec.Response) == 0 {
		return invalid("put ocsp", "response is required")
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO ocsp_responses (serial, aki, response, next_update)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (serial, aki) DO UPDATE SET response = excluded.response, next_update = excluded.next_update`,
		rec.Serial, aki, rec.Response, unixOrNull(rec.NextUpdate))
	return wrap("put ocsp", err)
}

// GetOCSP returns the stored response for serial+AKI. Errors:
// ErrInvalidArgument, ErrNotFound, context errors.
func (s *Store) GetOCSP(ctx context.Context, serial, aki string) (*sdk.OCSPRecord, error) {
	aki, err := checkKey("get ocsp", serial, aki)
	if err != nil {
		return nil, err
	}
	rec := sdk.OCSPRecord{Serial: serial, AKI: aki}
	var next sql.NullInt64
	err = s.r.QueryRowContext(ctx,
		"SELECT response, next_update FROM ocsp_responses WHERE serial = ? AND aki = ?",
		serial, aki).Scan(&rec.Response, &next)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store-sqlite: get ocsp serial %s aki %s: %w", serial, aki, sdk.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("get ocsp", err)
	}
	rec.NextUpdate = fromUnix(next)
	return &rec, nil
}
