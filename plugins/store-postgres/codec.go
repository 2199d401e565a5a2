package storepostgres

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/pkid/pkid/sdk"
)

// Stored times are whole seconds (X.509 validity is second-precision), like
// the sqlite store, so both stores return the same records.
func second(t time.Time) time.Time { return t.Truncate(time.Second).UTC() }

// tsOrNull stores the zero time as NULL.
func tsOrNull(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: second(t), Valid: true}
}

func fromTS(ts pgtype.Timestamptz) time.Time {
	if !ts.Valid {
		return time.Time{}
	}
	return ts.Time.UTC()
}

// ceilSecond is the smallest whole second not before t, so that for stored
// seconds s: s < ceilSecond(t) exactly when s < t.
func ceilSecond(t time.Time) time.Time {
	c := t.Truncate(time.Second)
	if c.Before(t) {
		c = c.Add(time.Second)
	}
	return c.UTC()
}

// storable reports whether t fits X.509 (and PostgreSQL): years 1 to 9999.
func storable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// text reports whether s can be stored in a TEXT column: valid UTF-8 (the
// database encoding) without NUL bytes.
func text(s string) bool {
	return utf8.ValidString(s) && !bytes.ContainsRune([]byte(s), 0)
}

// jsonb reports whether meta can be stored as JSONB: valid JSON without
// \u0000, which JSONB text cannot hold.
func jsonb(meta json.RawMessage) bool {
	return json.Valid(meta) && !bytes.Contains(meta, []byte(`\u0000`))
}

// certColumns matches scanCert.
const certColumns = `serial, aki, issuer_label, subject, sans, not_before, not_after, status,
	revocation_reason, revoked_at, profile, der, metadata, created_at`

// scanner is pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanCert(sc scanner) (*sdk.CertRecord, error) {
	var (
		rec                                       sdk.CertRecord
		notBefore, notAfter, revokedAt, createdAt pgtype.Timestamptz
		reason                                    int16
		meta                                      []byte
	)
	if err := sc.Scan(&rec.Serial, &rec.AKI, &rec.IssuerLabel, &rec.Subject, &rec.SANs, &notBefore,
		&notAfter, &rec.Status, &reason, &revokedAt, &rec.Profile, &rec.DER, &meta, &createdAt); err != nil {
		return nil, err
	}
	if len(rec.SANs) == 0 {
		rec.SANs = nil
	}
	rec.RevocationReason = int(reason)
	rec.NotBefore, rec.NotAfter = fromTS(notBefore), fromTS(notAfter)
	rec.RevokedAt, rec.CreatedAt = fromTS(revokedAt), fromTS(createdAt)
	if meta != nil {
		rec.Metadata = json.RawMessage(meta)
	}
	return &rec, nil
}
