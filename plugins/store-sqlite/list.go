package storesqlite

import (
	"context"
	"strings"

	"github.com/pkid/pkid/sdk"
)

// List calls fn for each record matching f, ordered by NotAfter, then serial
// as a decimal number (both descending when f.Descending). Rows stream from the database, one at a time; fn may
// call the store (reads use their own connections, writes the writer). An
// error from fn stops the listing and is returned as is. Other errors:
// ErrInvalidArgument (negative Limit), context errors.
func (s *Store) List(ctx context.Context, f sdk.ListFilter, fn func(*sdk.CertRecord) error) error {
	if f.Limit < 0 {
		return invalid("list", "negative limit %d", f.Limit)
	}
	query, args := listQuery(f)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return wrap("list", err)
	}
	defer rows.Close()
	for rows.Next() {
		rec, err := scanCert(rows)
		if err != nil {
			return wrap("list", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return wrap("list", rows.Err())
}

// listQuery builds the SELECT for f. Serials are decimal without leading
// zeros, so (length, text) orders them numerically; the not_after index
// supplies the outer order and SQLite sorts only within equal not_after.
func listQuery(f sdk.ListFilter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
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
		add("not_after < ?", ceilUnix(f.ExpiresBefore))
	}
	if !f.ExpiresAfter.IsZero() {
		// Whole stored seconds: s > t exactly when s > floor(t).
		add("not_after > ?", f.ExpiresAfter.Unix())
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
		b.WriteString(" LIMIT ?")
		args = append(args, f.Limit)
	}
	return b.String(), args
}
