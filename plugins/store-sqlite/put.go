package storesqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/pkid/pkid/sdk"
)

const insertCert = `INSERT INTO certificates (serial, aki, issuer_label, subject, sans, not_before,
	not_after, status, revocation_reason, revoked_at, profile, der, metadata, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (serial, aki) DO NOTHING`

const selectDER = `SELECT der FROM certificates WHERE serial = ? AND aki = ?`

// Put stores rec durably (committed and fsynced) before returning. Putting
// the same DER under the same serial+AKI again is a no-op. Errors:
// ErrInvalidArgument (a record sdk.CheckRecord refuses), ErrAlreadyExists (different DER under that
// serial+AKI), ErrUnavailable (lock timeout), context errors.
func (s *Store) Put(ctx context.Context, rec *sdk.CertRecord) error {
	errs, err := s.PutBatch(ctx, []*sdk.CertRecord{rec})
	if err != nil {
		return err
	}
	return errs[0]
}

// PutBatch stores recs in one transaction (one fsync). Each record gets its
// own error, as if Put were called for each in order: a conflicting or
// invalid record does not fail the others. The returned error (nil slice)
// means nothing was stored: database failure or context cancellation.
func (s *Store) PutBatch(ctx context.Context, recs []*sdk.CertRecord) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, wrap("put", err)
	}
	errs := make([]error, len(recs))
	rows := make([][]any, len(recs))
	valid := 0
	for i, rec := range recs {
		rows[i], errs[i] = s.certRow(rec)
		if errs[i] == nil {
			valid++
		}
	}
	if valid == 0 {
		return errs, nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap("put", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, insertCert)
	if err != nil {
		return nil, wrap("put", err)
	}
	defer ins.Close()
	sel, err := tx.PrepareContext(ctx, selectDER)
	if err != nil {
		return nil, wrap("put", err)
	}
	defer sel.Close()
	for i, row := range rows {
		if errs[i] != nil {
			continue
		}
		res, err := ins.ExecContext(ctx, row...)
		if err != nil {
			return nil, wrap("put", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, wrap("put", err)
		} else if n == 1 {
			continue
		}
		// Conflict: identical DER makes the Put idempotent. Earlier
		// records of this batch are visible here, so in-batch duplicates
		// behave like sequential Puts.
		var der []byte
		if err := sel.QueryRowContext(ctx, row[0], row[1]).Scan(&der); err != nil {
			return nil, wrap("put", err)
		}
		if !bytes.Equal(der, recs[i].DER) {
			errs[i] = fmt.Errorf("store-sqlite: put serial %s aki %s: a different certificate is stored: %w",
				row[0], row[1], sdk.ErrAlreadyExists)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap("put", err)
	}
	return errs, nil
}

// certRow validates rec with the rules every store applies
// (sdk.CheckRecord) and returns the insert arguments, applying the defaults
// (status good, CreatedAt now) without modifying rec.
func (s *Store) certRow(rec *sdk.CertRecord) ([]any, error) {
	if err := sdk.CheckRecord(rec); err != nil {
		return nil, fmt.Errorf("store-sqlite: put: %w", err)
	}
	aki := sdk.NormalizeAKI(rec.AKI)
	status, reason, revokedAt := rec.Status, 0, any(nil)
	switch status {
	case "":
		status = sdk.StatusGood
	case sdk.StatusRevoked:
		reason = rec.RevocationReason
		revokedAt = unixOrNull(rec.RevokedAt)
		if revokedAt == nil {
			revokedAt = s.now().Unix()
		}
	}
	var meta any
	if len(rec.Metadata) > 0 {
		meta = string(rec.Metadata)
	}
	sans, err := encodeSANs(rec.SANs)
	if err != nil {
		return nil, invalid("put", "sans: %v", err)
	}
	created := rec.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	return []any{rec.Serial, aki, rec.IssuerLabel, rec.Subject, sans, unixOrNull(rec.NotBefore),
		rec.NotAfter.Unix(), status, reason, revokedAt, rec.Profile, rec.DER, meta, created.Unix()}, nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// certColumns matches scanCert.
const certColumns = `serial, aki, issuer_label, subject, sans, not_before, not_after, status,
	revocation_reason, revoked_at, profile, der, metadata, created_at`

func scanCert(sc scanner) (*sdk.CertRecord, error) {
	var (
		rec                                       sdk.CertRecord
		sans                                      string
		notBefore, notAfter, revokedAt, createdAt sql.NullInt64
		meta                                      sql.NullString
	)
	if err := sc.Scan(&rec.Serial, &rec.AKI, &rec.IssuerLabel, &rec.Subject, &sans, &notBefore,
		&notAfter, &rec.Status, &rec.RevocationReason, &revokedAt, &rec.Profile, &rec.DER, &meta,
		&createdAt); err != nil {
		return nil, err
	}
	var err error
	if rec.SANs, err = decodeSANs(sans); err != nil {
		return nil, fmt.Errorf("decoding sans of serial %s: %w", rec.Serial, err)
	}
	rec.NotBefore, rec.NotAfter = fromUnix(notBefore), fromUnix(notAfter)
	rec.RevokedAt, rec.CreatedAt = fromUnix(revokedAt), fromUnix(createdAt)
	if meta.Valid {
		rec.Metadata = json.RawMessage(meta.String)
	}
	return &rec, nil
}
