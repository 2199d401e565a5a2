package storesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pkid/pkid/sdk"
)

// Revoke marks a certificate revoked with req.Reason at req.RevokedAt (zero:
// now). Revoking again with the same reason succeeds and keeps the original
// time; a certificate on hold (certificateHold, 6) may move to another reason
// (keeping its time unless req.RevokedAt is set). Errors: ErrInvalidArgument
// (empty serial/AKI, reason not 0-6 or 8-10), ErrNotFound,
// ErrFailedPrecondition (already revoked with another reason),
// ErrUnavailable, context errors.
func (s *Store) Revoke(ctx context.Context, req sdk.RevokeRequest) error {
	aki, err := checkKey("revoke", req.Serial, req.AKI)
	if err != nil {
		return err
	}
	if !sdk.ValidReason(req.Reason) {
		return invalid("revoke", "reason %d is not an RFC 5280 CRLReason (0-6, 8-10)", req.Reason)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap("revoke", err)
	}
	defer tx.Rollback()
	var (
		status    string
		reason    int
		revokedAt sql.NullInt64
	)
	err = tx.QueryRowContext(ctx,
		"SELECT status, revocation_reason, revoked_at FROM certificates WHERE serial = ? AND aki = ?",
		req.Serial, aki).Scan(&status, &reason, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store-sqlite: revoke serial %s aki %s: %w", req.Serial, aki, sdk.ErrNotFound)
	}
	if err != nil {
		return wrap("revoke", err)
	}
	var cur time.Time
	if revokedAt.Valid {
		cur = fromUnix(revokedAt)
	}
	update, at, err := sdk.RevocationTransition(status, reason, cur, req)
	if err != nil {
		return fmt.Errorf("store-sqlite: revoke serial %s aki %s: %w", req.Serial, aki, err)
	}
	if !update {
		return nil // idempotent: keep the original time
	}
	if at.IsZero() {
		at = s.now()
	}
	if _, err := tx.ExecContext(ctx,
		"UPDATE certificates SET status = ?, revocation_reason = ?, revoked_at = ? WHERE serial = ? AND aki = ?",
		sdk.StatusRevoked, req.Reason, at.Unix(), req.Serial, aki); err != nil {
		return wrap("revoke", err)
	}
	return wrap("revoke", tx.Commit())
}
