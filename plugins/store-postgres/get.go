package storepostgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pkid/pkid/sdk"
)

// Get returns the record for serial+AKI. Errors: ErrInvalidArgument (empty
// serial or AKI), ErrNotFound, ErrUnavailable, context errors.
func (s *Store) Get(ctx context.Context, serial, aki string) (*sdk.CertRecord, error) {
	aki, err := checkKey("get", serial, aki)
	if err != nil {
		return nil, err
	}
	var rec *sdk.CertRecord
	err = s.retry(ctx, func() error {
		var err error
		rec, err = scanCert(s.pool.QueryRow(ctx,
			"SELECT "+certColumns+" FROM certificates WHERE serial = $1 AND aki = $2", serial, aki))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store-postgres: get serial %s aki %s: %w", serial, aki, sdk.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "get", err)
	}
	return rec, nil
}
