package storesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pkid/pkid/sdk"
)

// Get returns the record for serial+AKI. Errors: ErrInvalidArgument (empty
// serial or AKI), ErrNotFound, context errors.
func (s *Store) Get(ctx context.Context, serial, aki string) (*sdk.CertRecord, error) {
	aki, err := checkKey("get", serial, aki)
	if err != nil {
		return nil, err
	}
	rec, err := scanCert(s.r.QueryRowContext(ctx,
		"SELECT "+certColumns+" FROM certificates WHERE serial = ? AND aki = ?", serial, aki))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store-sqlite: get serial %s aki %s: %w", serial, aki, sdk.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("get", err)
	}
	return rec, nil
}
