package storepostgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/pkid/pkid/sdk"
)

// insertCert inserts one record unless serial+AKI exists (no rows
// affected). Kept plain: a variant comparing the stored DER in the same
// statement (a CTE) measured slower with every row in the table.
const insertCert = `INSERT INTO certificates (serial, aki, issuer_label, subject, sans, not_before, not_after,
	status, revocation_reason, revoked_at, profile, der, metadata, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
	ON CONFLICT (serial, aki) DO NOTHING`

// selectSameDER reports whether the stored DER of a key equals $3.
const selectSameDER = `SELECT der = $3 FROM certificates WHERE serial = $1 AND aki = $2`

// row is one validated record, as insert arguments.
type row struct {
	serial, aki string
	der         []byte
	args        []any
}

// Put stores rec durably (committed) before returning. Putting the same
// DER under the same serial+AKI again is a no-op. Errors:
// ErrInvalidArgument (a record sdk.CheckRecord refuses; text with NUL or
// invalid UTF-8; metadata holding \u0000), ErrAlreadyExists
// (different DER under that serial+AKI), ErrUnavailable (server unreachable:
// the record may or may not be stored; a retry is safe), context errors.
func (s *Store) Put(ctx context.Context, rec *sdk.CertRecord) error {
	errs, err := s.PutBatch(ctx, []*sdk.CertRecord{rec})
	if err != nil {
		return err
	}
	return errs[0]
}

// PutBatch stores recs in one transaction: one pipelined round trip that
// PostgreSQL runs as one implicit transaction, so one commit. Each record
// gets its own error, as if Put were called for each in order: a
// conflicting or invalid record does not fail the others. The returned
// error (nil slice) means nothing was stored by this call, or, wrapping
// ErrUnavailable, that the outcome is unknown (a retry is safe: Put is
// idempotent); or ctx was done.
func (s *Store) PutBatch(ctx context.Context, recs []*sdk.CertRecord) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, wrap(ctx, "put", err)
	}
	errs := make([]error, len(recs))
	var rows []*row
	var index []int // rows[k] is recs[index[k]]
	for i, rec := range recs {
		r, err := s.certRow(rec)
		if err != nil {
			errs[i] = err
			continue
		}
		rows, index = append(rows, r), append(index, i)
	}
	if len(rows) == 0 {
		return errs, nil
	}
	// Insert in key order (stable: in-batch duplicates keep their order),
	// so concurrent batches lock rows in the same order and never deadlock.
	order := make([]int, len(rows))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := strings.Compare(rows[a].serial, rows[b].serial); c != 0 {
			return c
		}
		return strings.Compare(rows[a].aki, rows[b].aki)
	})
	inserted := make([]bool, len(rows))
	err := s.retry(ctx, func() error {
		b := &pgx.Batch{}
		for _, k := range order {
			b.Queue(insertCert, rows[k].args...)
		}
		br := s.pool.SendBatch(ctx, b)
		for _, k := range order {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			inserted[k] = tag.RowsAffected() == 1
		}
		// Close reads up to ReadyForQuery: the transaction has committed.
		return br.Close()
	})
	if err != nil {
		return nil, wrap(ctx, "put", err)
	}
	// Conflicts: the same DER makes the Put idempotent. Stored records
	// never change their DER, so comparing after the commit gives the
	// result sequential Puts would (in-batch duplicates included).
	var conflicts []int
	for k, ok := range inserted {
		if !ok {
			conflicts = append(conflicts, k)
		}
	}
	if len(conflicts) == 0 {
		return errs, nil
	}
	same, err := s.sameDER(ctx, rows, conflicts)
	if err != nil {
		return nil, err
	}
	for i, k := range conflicts {
		if !same[i] {
			errs[index[k]] = fmt.Errorf("store-postgres: put serial %s aki %s: a different certificate is stored: %w",
				rows[k].serial, rows[k].aki, sdk.ErrAlreadyExists)
		}
	}
	return errs, nil
}

// sameDER compares, in one round trip, the stored DER of each conflicting
// row with the row's. Errors: as PutBatch.
func (s *Store) sameDER(ctx context.Context, rows []*row, conflicts []int) ([]bool, error) {
	same := make([]bool, len(conflicts))
	err := s.retry(ctx, func() error {
		b := &pgx.Batch{}
		for _, k := range conflicts {
			b.Queue(selectSameDER, rows[k].serial, rows[k].aki, rows[k].der)
		}
		br := s.pool.SendBatch(ctx, b)
		for i := range conflicts {
			if err := br.QueryRow().Scan(&same[i]); err != nil {
				br.Close()
				return err
			}
		}
		return br.Close()
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store-postgres: put: a conflicting record vanished")
	}
	if err != nil {
		return nil, wrap(ctx, "put", err)
	}
	return same, nil
}

// certRow validates rec with the rules every store applies
// (sdk.CheckRecord) and what PostgreSQL adds (text without NUL, JSONB),
// and returns the insert arguments, applying the defaults (status good,
// CreatedAt now) without modifying rec.
func (s *Store) certRow(rec *sdk.CertRecord) (*row, error) {
	if err := sdk.CheckRecord(rec); err != nil {
		return nil, fmt.Errorf("store-postgres: put: %w", err)
	}
	aki := sdk.NormalizeAKI(rec.AKI)
	for _, f := range append([]string{aki, rec.IssuerLabel, rec.Subject, rec.Profile}, rec.SANs...) {
		if !text(f) {
			return nil, invalid("put", "text field %q is not valid UTF-8 or contains NUL", f)
		}
	}
	status, reason, revokedAt := rec.Status, 0, pgtype.Timestamptz{}
	switch status {
	case "":
		status = sdk.StatusGood
	case sdk.StatusRevoked:
		reason = rec.RevocationReason
		revokedAt = tsOrNull(rec.RevokedAt)
		if !revokedAt.Valid {
			revokedAt = tsOrNull(s.now())
		}
	}
	var meta []byte // nil: NULL
	if len(rec.Metadata) > 0 {
		if !jsonb(rec.Metadata) {
			return nil, invalid("put", "metadata holds \\u0000, which JSONB cannot store")
		}
		meta = rec.Metadata
	}
	sans := rec.SANs
	if sans == nil {
		sans = []string{}
	}
	created := rec.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	return &row{serial: rec.Serial, aki: aki, der: rec.DER, args: []any{
		rec.Serial, aki, rec.IssuerLabel, rec.Subject, sans, tsOrNull(rec.NotBefore),
		tsOrNull(rec.NotAfter), status, int16(reason), revokedAt, rec.Profile, rec.DER, meta,
		tsOrNull(created)}}, nil
}
