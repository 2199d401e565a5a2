package storepostgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/pkid/pkid/sdk"
)

// Revoke marks a certificate revoked with req.Reason at req.RevokedAt (zero:
// now). Revoking again with the same reason succeeds and keeps the original
// time; a certificate on hold (certificateHold, 6) may move to another reason
// (keeping its time unless req.RevokedAt is set). The row is locked (SELECT
// ... FOR UPDATE), so concurrent revocations from several nodes serialise.
// Errors: ErrInvalidArgument (empty serial/AKI, reason not 0-6 or 8-10),
// ErrNotFound, ErrFailedPrecondition (already revoked with another reason),
// ErrUnavailable, context errors.
func (s *Store) Revoke(ctx context.Context, req sdk.RevokeRequest) error {
	aki, err := checkKey("revoke", req.Serial, req.AKI)
	if err != nil {
		return err
	}
	if !sdk.ValidReason(req.Reason) {
		return invalid("revoke", "reason %d is not an RFC 5280 CRLReason (0-6, 8-10)", req.Reason)
	}
	if !req.RevokedAt.IsZero() && !storable(req.RevokedAt) {
		return invalid("revoke", "revoked_at %v is outside years 1-9999", req.RevokedAt)
	}
	// Idempotent, so safe to retry after a dead connection.
	err = s.retry(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.revoke(ctx, tx, req, aki) })
	})
	var done doneError
	if errors.As(err, &done) {
		return done.err
	}
	return wrap(ctx, "revoke", err)
}

// doneError carries a final (not database) error out of the transaction.
type doneError struct{ err error }

func (e doneError) Error() string { return e.err.Error() }

func (s *Store) revoke(ctx context.Context, tx pgx.Tx, req sdk.RevokeRequest, aki string) error {
	var (
		status    string
		reason    int16
		revokedAt pgtype.Timestamptz
	)
	err := tx.QueryRow(ctx,
		"SELECT status, revocation_reason, revoked_at FROM certificates WHERE serial = $1 AND aki = $2 FOR UPDATE",
		req.Serial, aki).Scan(&status, &reason, &revokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return doneError{fmt.Errorf("store-postgres: revoke serial %s aki %s: %w", req.Serial, aki, sdk.ErrNotFound)}
	}
	if err != nil {
		return err
	}
	var cur time.Time
	if revokedAt.Valid {
		cur = fromTS(revokedAt)
	}
	update, at, err := sdk.RevocationTransition(status, int(reason), cur, req)
	if err != nil {
		return doneError{fmt.Errorf("store-postgres: revoke serial %s aki %s: %w", req.Serial, aki, err)}
	}
	if !update {
		return nil // idempotent: keep the original time
	}
	if at.IsZero() {
		at = s.now()
	}
	_, err = tx.Exec(ctx,
		"UPDATE certificates SET status = $1, revocation_reason = $2, revoked_at = $3 WHERE serial = $4 AND aki = $5",
		sdk.StatusRevoked, int16(req.Reason), tsOrNull(at), req.Serial, aki)
	return err
}
