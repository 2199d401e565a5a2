package storecfssl

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pkid/pkid/sdk"
)

var (
	_ sdk.BatchPutter = (*Store)(nil)
)

// errReadOnly is returned by writes to a store opened read-only.
var errReadOnly = fmt.Errorf("store-cfssl: the store is read-only: %w", sdk.ErrFailedPrecondition)

const insertCert = `INSERT INTO certificates (serial_number, authority_key_identifier, ca_label, status,
	reason, expiry, revoked_at, pem, issued_at, not_before, metadata, sans, common_name)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) `

// Put inserts rec as CFSSL would (see the package comment). Putting the
// same certificate under the same serial+AKI again is a no-op. Errors:
// ErrInvalidArgument (a record sdk.CheckRecord refuses, or with a time or
// PEM the MySQL schema cannot hold), ErrAlreadyExists
// (another certificate under that serial+AKI), ErrFailedPrecondition
// (read-only), ErrUnavailable, context errors.
func (s *Store) Put(ctx context.Context, rec *sdk.CertRecord) error {
	errs, err := s.PutBatch(ctx, []*sdk.CertRecord{rec})
	if err != nil {
		return err
	}
	return errs[0]
}

// PutBatch inserts recs in one transaction. Each record gets Put's error
// for it; the returned error (nil slice) means nothing was stored.
func (s *Store) PutBatch(ctx context.Context, recs []*sdk.CertRecord) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.wrap(ctx, "put", err)
	}
	errs := make([]error, len(recs))
	args := make([][]any, len(recs))
	valid := 0
	for i, rec := range recs {
		if errs[i] = sdk.CheckRecord(rec); errs[i] != nil {
			errs[i] = fmt.Errorf("store-cfssl: put: %w", errs[i])
			continue
		}
		if args[i], errs[i] = s.certArgs(rec); errs[i] == nil {
			valid++
		}
	}
	if valid == 0 {
		return errs, nil
	}
	if s.readOnly {
		return nil, errReadOnly
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.wrap(ctx, "put", err)
	}
	defer tx.Rollback()
	for i, a := range args {
		if errs[i] != nil {
			continue
		}
		res, err := tx.ExecContext(ctx, s.d.rebind(insertCert+s.d.conflictDoNothing()), a...)
		if err != nil && s.d.outOfRange(err) {
			// A value the column cannot hold (MySQL's TIMESTAMP ends
			// in 2038, its pem column at 4096 bytes): this record's
			// fault, not the database's.
			errs[i] = fmt.Errorf("store-cfssl: put serial %s: the database cannot hold it (%s): %w",
				recs[i].Serial, oneLine(err), sdk.ErrInvalidArgument)
			continue
		}
		if err != nil {
			return nil, s.wrap(ctx, "put", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, s.wrap(ctx, "put", err)
		} else if n == 1 {
			continue
		}
		// Conflict: the same certificate makes the Put idempotent.
		var pemText []byte
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT pem FROM certificates
			WHERE serial_number = ? AND authority_key_identifier = ?`), a[0], a[1]).Scan(&pemText); err != nil {
			return nil, s.wrap(ctx, "put", err)
		}
		if der, err := decodePEM(pemText); err != nil || !bytes.Equal(der, recs[i].DER) {
			errs[i] = fmt.Errorf("store-cfssl: put serial %s aki %s: a different certificate is stored: %w",
				recs[i].Serial, sdk.NormalizeAKI(recs[i].AKI), sdk.ErrAlreadyExists)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, s.wrap(ctx, "put", err)
	}
	return errs, nil
}

// certArgs are insertCert's arguments for a checked record.
func (s *Store) certArgs(rec *sdk.CertRecord) ([]any, error) {
	d := derive(rec.DER)
	meta, err := encodeMetadata(rec, d)
	if err != nil {
		return nil, fmt.Errorf("store-cfssl: put: metadata: %w", err)
	}
	// sans holds DNS names only, as CFSSL writes it; the other SANs are
	// recovered from the certificate (or kept in the extras).
	dns := d.dnsNames
	if !d.ok {
		dns = rec.SANs
	}
	sans, err := json.Marshal(dns)
	if err != nil {
		return nil, fmt.Errorf("store-cfssl: put: sans: %w", err)
	}
	status, reason, revokedAt := rec.Status, 0, time.Time{}
	if status == "" {
		status = sdk.StatusGood
	}
	if status == sdk.StatusRevoked {
		reason, revokedAt = rec.RevocationReason, rec.RevokedAt
		if revokedAt.IsZero() {
			revokedAt = s.now()
		}
	}
	created := rec.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	var notBefore, cn any
	if !rec.NotBefore.IsZero() {
		notBefore = s.d.ts(rec.NotBefore)
	}
	if d.ok {
		cn = d.commonName
	}
	return []any{
		s.d.key(rec.Serial), s.d.key(sdk.NormalizeAKI(rec.AKI)), s.d.key(rec.IssuerLabel), s.d.key(status),
		reason, s.d.ts(rec.NotAfter),
		// CFSSL scans revoked_at into a time.Time: a good certificate
		// has the zero time, never NULL.
		s.d.ts(revokedAt),
		s.d.key(encodePEM(rec.DER)), s.d.ts(created), notBefore, meta, string(sans), cn,
	}, nil
}

// Get returns one certificate. Errors: ErrInvalidArgument (bad serial or
// AKI), ErrNotFound, ErrUnavailable, context errors.
func (s *Store) Get(ctx context.Context, serial, aki string) (*sdk.CertRecord, error) {
	aki, err := checkKey("get", serial, aki)
	if err != nil {
		return nil, err
	}
	row := s.r.QueryRowContext(ctx, s.d.rebind(`SELECT `+certColumnList+` FROM certificates
		WHERE serial_number = ? AND authority_key_identifier = ?`), s.d.key(serial), s.d.key(aki))
	rec, err := s.scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store-cfssl: get serial %s aki %s: %w", serial, aki, sdk.ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap(ctx, "get", err)
	}
	return rec, nil
}

// List streams the records matching f, ordered by expiry then serial
// (numerically) then AKI, all reversed when f.Descending. Errors: fn's error, ErrUnavailable, context
// errors.
func (s *Store) List(ctx context.Context, f sdk.ListFilter, fn func(*sdk.CertRecord) error) error {
	var (
		where []string
		args  []any
	)
	switch {
	case f.IssuerLabel != "" && f.IssuerLabel == s.unlabelled:
		where = append(where, "(ca_label = ? OR ca_label = ? OR ca_label IS NULL)")
		args = append(args, s.d.key(f.IssuerLabel), s.d.key(""))
	case f.IssuerLabel != "":
		where, args = append(where, "ca_label = ?"), append(args, s.d.key(f.IssuerLabel))
	}
	if f.AKI != "" {
		where, args = append(where, "authority_key_identifier = ?"), append(args, s.d.key(sdk.NormalizeAKI(f.AKI)))
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, s.d.key(f.Status))
	}
	if !f.ExpiresBefore.IsZero() {
		where, args = append(where, "expiry < ?"), append(args, s.d.ts(f.ExpiresBefore))
	}
	if !f.ExpiresAfter.IsZero() {
		where, args = append(where, "expiry > ?"), append(args, s.d.ts(f.ExpiresAfter))
	}
	q := `SELECT ` + certColumnList + ` FROM certificates`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Descending {
		q += " ORDER BY expiry DESC, length(serial_number) DESC, serial_number DESC, authority_key_identifier DESC"
	} else {
		q += " ORDER BY expiry, length(serial_number), serial_number, authority_key_identifier"
	}
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return s.wrap(ctx, "list", err)
	}
	defer rows.Close()
	for rows.Next() {
		rec, err := s.scan(rows)
		if err != nil {
			return s.wrap(ctx, "list", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return s.wrap(ctx, "list", rows.Err())
}

// Revoke marks a certificate revoked (sdk.RevocationTransition's rules:
// the same reason again keeps the original time; a certificate on hold may
// move to another reason). Errors: ErrInvalidArgument, ErrNotFound,
// ErrFailedPrecondition (another reason; read-only), ErrUnavailable,
// context errors.
func (s *Store) Revoke(ctx context.Context, req sdk.RevokeRequest) error {
	aki, err := checkKey("revoke", req.Serial, req.AKI)
	if err != nil {
		return err
	}
	if !sdk.ValidReason(req.Reason) {
		return fmt.Errorf("store-cfssl: revoke: reason %d is not an RFC 5280 CRLReason (0-6, 8-10): %w", req.Reason, sdk.ErrInvalidArgument)
	}
	if s.readOnly {
		return errReadOnly
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(ctx, "revoke", err)
	}
	defer tx.Rollback()
	lock := s.d.lockRow()
	var (
		status    string
		reason    sql.NullInt64
		revokedAt any
	)
	err = tx.QueryRowContext(ctx, s.d.rebind(`SELECT status, reason, revoked_at FROM certificates
		WHERE serial_number = ? AND authority_key_identifier = ?`+lock), s.d.key(req.Serial), s.d.key(aki)).
		Scan(&status, &reason, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store-cfssl: revoke serial %s aki %s: %w", req.Serial, aki, sdk.ErrNotFound)
	}
	if err != nil {
		return s.wrap(ctx, "revoke", err)
	}
	cur, err := parseTime(revokedAt)
	if err != nil {
		return s.wrap(ctx, "revoke", err)
	}
	update, at, err := sdk.RevocationTransition(status, int(reason.Int64), cur, req)
	if err != nil {
		return fmt.Errorf("store-cfssl: revoke serial %s aki %s: %w", req.Serial, aki, err)
	}
	if !update {
		return nil
	}
	if at.IsZero() {
		at = s.now()
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE certificates SET status = ?, reason = ?, revoked_at = ?
		WHERE serial_number = ? AND authority_key_identifier = ?`),
		s.d.key(sdk.StatusRevoked), req.Reason, s.d.ts(at), s.d.key(req.Serial), s.d.key(aki)); err != nil {
		return s.wrap(ctx, "revoke", err)
	}
	return s.wrap(ctx, "revoke", tx.Commit())
}

// PutOCSP stores (replacing) the response for a certificate, as CFSSL's
// UpsertOCSP. Errors: ErrInvalidArgument (also a response or time the
// MySQL schema cannot hold), ErrFailedPrecondition
// (read-only), ErrNotFound (PostgreSQL only, where CFSSL's foreign key
// requires the certificate's row; SQLite does not enforce it, as under
// CFSSL), ErrUnavailable, context errors.
func (s *Store) PutOCSP(ctx context.Context, rec *sdk.OCSPRecord) error {
	if rec == nil {
		return fmt.Errorf("store-cfssl: put ocsp: nil record: %w", sdk.ErrInvalidArgument)
	}
	aki, err := checkKey("put ocsp", rec.Serial, rec.AKI)
	if err != nil {
		return err
	}
	if len(rec.Response) == 0 {
		return fmt.Errorf("store-cfssl: put ocsp: empty response: %w", sdk.ErrInvalidArgument)
	}
	if s.readOnly {
		return errReadOnly
	}
	_, err = s.w.ExecContext(ctx, s.d.rebind(`INSERT INTO ocsp_responses (serial_number, authority_key_identifier, body, expiry)
		VALUES (?, ?, ?, ?) `+s.d.conflictUpdate("body", "expiry")),
		s.d.key(rec.Serial), s.d.key(aki), rec.Response, s.d.ts(rec.NextUpdate))
	if err != nil && s.d.outOfRange(err) {
		return fmt.Errorf("store-cfssl: put ocsp serial %s aki %s: the database cannot hold it (%s): %w", rec.Serial, aki, oneLine(err), sdk.ErrInvalidArgument)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation
		return fmt.Errorf("store-cfssl: put ocsp serial %s aki %s: no such certificate (CFSSL's foreign key): %w", rec.Serial, aki, sdk.ErrNotFound)
	}
	return s.wrap(ctx, "put ocsp", err)
}

// GetOCSP returns the stored response. Errors: ErrInvalidArgument,
// ErrNotFound, ErrUnavailable, context errors.
func (s *Store) GetOCSP(ctx context.Context, serial, aki string) (*sdk.OCSPRecord, error) {
	aki, err := checkKey("get ocsp", serial, aki)
	if err != nil {
		return nil, err
	}
	var (
		body   []byte
		expiry any
	)
	err = s.r.QueryRowContext(ctx, s.d.rebind(`SELECT body, expiry FROM ocsp_responses
		WHERE serial_number = ? AND authority_key_identifier = ?`), s.d.key(serial), s.d.key(aki)).Scan(&body, &expiry)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store-cfssl: get ocsp serial %s aki %s: %w", serial, aki, sdk.ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap(ctx, "get ocsp", err)
	}
	next, err := parseTime(expiry)
	if err != nil {
		return nil, s.wrap(ctx, "get ocsp", err)
	}
	return &sdk.OCSPRecord{Serial: serial, AKI: aki, Response: body, NextUpdate: next}, nil
}

// checkKey checks a serial and AKI and returns the normalised AKI.
func checkKey(op, serial, aki string) (string, error) {
	if err := sdk.CheckSerial(serial); err != nil {
		return "", fmt.Errorf("store-cfssl: %s: %w", op, err)
	}
	n := sdk.NormalizeAKI(aki)
	if n == "" {
		return "", fmt.Errorf("store-cfssl: %s: empty aki: %w", op, sdk.ErrInvalidArgument)
	}
	return n, nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scan is scanCert with the store's label for unlabelled rows.
func (s *Store) scan(sc scanner) (*sdk.CertRecord, error) {
	rec, err := scanCert(sc)
	if err == nil && rec.IssuerLabel == "" {
		rec.IssuerLabel = s.unlabelled
	}
	return rec, err
}

// scanCert reads certColumnList into a record. Subject and SANs come from
// the certificate when it parses, unless the extras say otherwise.
func scanCert(sc scanner) (*sdk.CertRecord, error) {
	var (
		serial, aki, label, status, pemText []byte
		reason                              sql.NullInt64
		expiry, revokedAt, issued, notBef   any
		meta, sans                          []byte
		cn                                  sql.NullString
	)
	if err := sc.Scan(&serial, &aki, &label, &status, &reason, &expiry, &revokedAt, &pemText, &issued, &notBef,
		&meta, &sans, &cn); err != nil {
		return nil, err
	}
	rec := &sdk.CertRecord{Serial: string(serial), AKI: string(aki), IssuerLabel: string(label),
		Status: string(status), RevocationReason: int(reason.Int64)}
	bad := func(what string, err error) error {
		return fmt.Errorf("certificate row serial %s: %s: %w", rec.Serial, what, err)
	}
	var err error
	if rec.DER, err = decodePEM(pemText); err != nil {
		return nil, bad("pem", err)
	}
	for _, t := range []struct {
		dst *time.Time
		v   any
		n   string
	}{{&rec.NotAfter, expiry, "expiry"}, {&rec.RevokedAt, revokedAt, "revoked_at"}, {&rec.CreatedAt, issued, "issued_at"}, {&rec.NotBefore, notBef, "not_before"}} {
		if *t.dst, err = parseTime(t.v); err != nil {
			return nil, bad(t.n, err)
		}
	}
	var ex extras
	if rec.Metadata, ex, err = decodeMetadata(meta); err != nil {
		return nil, bad("metadata", err)
	}
	rec.Profile = ex.Profile
	d := derive(rec.DER)
	rec.Subject, rec.SANs = d.subject, d.sans
	if !d.ok {
		// Not a certificate: the common name and sans columns are
		// all there is.
		rec.Subject = cn.String
		_ = json.Unmarshal(sans, &rec.SANs)
	}
	if ex.Subject != nil {
		rec.Subject = *ex.Subject
	}
	if ex.SANs != nil {
		rec.SANs = *ex.SANs
	}
	if rec.Status != sdk.StatusRevoked {
		rec.RevocationReason, rec.RevokedAt = 0, time.Time{}
	}
	return rec, nil
}
