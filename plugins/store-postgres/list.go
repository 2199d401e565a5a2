package storepostgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pkid/pkid/sdk"
)

// List calls fn for each record matching f, ordered by NotAfter, then serial
// as a decimal number (both descending when f.Descending). Rows stream from the server on one pooled
// connection; fn may call the store, which then uses another connection
// (max_conns is at least 2). An error from fn stops the listing and is
// returned as is. Other errors: ErrInvalidArgument (negative Limit),
// ErrUnavailable (the connection failed; the listing may be incomplete),
// context errors.
func (s *Store) List(ctx context.Context, f sdk.ListFilter, fn func(*sdk.CertRecord) error) error {
	if f.Limit < 0 {
		return invalid("list", "negative limit %d", f.Limit)
	}
	query, args := listQuery(f)
	// Retry (after a server restart) only until the first row arrives, so
	// fn never sees a record twice.
	var rows pgx.Rows
	var more bool
	err := s.retry(ctx, func() error {
		r, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		if more = r.Next(); more {
			rows = r
			return nil
		}
		r.Close()
		return r.Err()
	})
	if err != nil || !more {
		return wrap(ctx, "list", err)
	}
	defer rows.Close()
	for ; more; more = rows.Next() {
		rec, err := scanCert(rows)
		if err != nil {
			return wrap(ctx, "list", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return wrap(ctx, "list", rows.Err())
}

// listQuery builds the SELECT for f. Serials are decimal without leading
// zeros in the C collation, so (length, text) orders them numerically; an
// index on not_after (alone or after the filtered column) supplies the
// outer order.
func listQuery(f sdk.ListFilter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.IssuerLabel != "" {
		add("issuer_label = ?", f.IssuerLabel)
	}
	if f.AKI != "" {
		add("aki = ?", sdk.NormalizeAKI(f.AKI))
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if !f.ExpiresBefore.IsZero() {
		add("not_after < ?", ceilSecond(f.ExpiresBefore))
	}
	if !f.ExpiresAfter.IsZero() {
		// Whole stored seconds: s > t exactly when s > floor(t).
		add("not_after > ?", second(f.ExpiresAfter))
	}
	var b strings.Builder
	b.WriteString("SELECT " + certColumns + " FROM certificates")
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	if f.Descending {
		b.WriteString(" ORDER BY not_after DESC, length(serial) DESC, serial DESC")
	} else {
		b.WriteString(" ORDER BY not_after, length(serial), serial")
	}
	if f.Limit > 0 {
		args = append(args, f.Limit)
		b.WriteString(" LIMIT $" + strconv.Itoa(len(args)))
	}
	return b.String(), args
}
