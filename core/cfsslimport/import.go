// Package cfsslimport copies a CFSSL certdb (its `certificates` and
// `ocsp_responses` tables, SQLite or PostgreSQL) into a pkid certstore. It
// only reads the source and is idempotent: importing again adds what is
// new and changes nothing else.
package cfsslimport

import (
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
	_ "modernc.org/sqlite" // "sqlite" driver
)

// Stats counts what an import did.
type Stats struct {
	Certificates, Revoked, OCSP int
	// Skipped rows could not be imported (bad PEM, conflicts); each is
	// reported on the progress writer.
	Skipped int
}

// Open opens a CFSSL certdb: "sqlite:PATH" (or a *.db path),
// "postgres://..." DSNs, or a CFSSL db-config JSON file
// ({"driver": ..., "data_source": ...}).
func Open(from string) (*sql.DB, error) {
	driver, dsn := "", ""
	switch {
	case strings.HasPrefix(from, "postgres://"), strings.HasPrefix(from, "postgresql://"):
		driver, dsn = "pgx", from
	case strings.HasPrefix(from, "sqlite:"):
		driver, dsn = "sqlite", strings.TrimPrefix(from, "sqlite:")
	case strings.HasSuffix(from, ".json"):
		data, err := os.ReadFile(from)
		if err != nil {
			return nil, err
		}
		var dbc struct {
			Driver     string `json:"driver"`
			DataSource string `json:"data_source"`
		}
		if err := json.Unmarshal(data, &dbc); err != nil || dbc.Driver == "" || dbc.DataSource == "" {
			return nil, fmt.Errorf("%s: not a CFSSL db-config (want {\"driver\", \"data_source\"})", from)
		}
		switch dbc.Driver {
		case "sqlite3":
			driver, dsn = "sqlite", dbc.DataSource
		case "postgres":
			driver, dsn = "pgx", dbc.DataSource
		default:
			return nil, fmt.Errorf("%s: driver %q is not supported (sqlite3 or postgres)", from, dbc.Driver)
		}
	default:
		if _, err := os.Stat(from); err != nil {
			return nil, fmt.Errorf("source %q: want sqlite:PATH, postgres://... or a db-config .json file", from)
		}
		driver, dsn = "sqlite", from
	}
	if driver == "sqlite" {
		if _, err := os.Stat(dsn); err != nil {
			return nil, fmt.Errorf("CFSSL certdb %s: %w", dsn, err)
		}
		// Read only: the importer never alters the source.
		dsn = "file:" + dsn + "?mode=ro"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// Import copies every certificate and OCSP response from src into dst.
// progress gets one line per skipped row and a summary.
func Import(ctx context.Context, src *sql.DB, dst sdk.CertStore, progress io.Writer) (Stats, error) {
	var st Stats
	rows, err := src.QueryContext(ctx, `SELECT serial_number, authority_key_identifier, ca_label, status, reason, revoked_at, pem FROM certificates`)
	if err != nil {
		return st, fmt.Errorf("cfssl import: reading certificates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			serial, aki, status, pemText string
			label                        sql.NullString
			reason                       sql.NullInt64
			revokedAt                    any
		)
		if err := rows.Scan(&serial, &aki, &label, &status, &reason, &revokedAt, &pemText); err != nil {
			return st, fmt.Errorf("cfssl import: reading a certificate row: %w", err)
		}
		if err := importCert(ctx, dst, serial, aki, label.String, status, int(reason.Int64), revokedAt, pemText, &st); err != nil {
			st.Skipped++
			fmt.Fprintf(progress, "skipped certificate serial %s: %v\n", serial, err)
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("cfssl import: %w", err)
	}
	orows, err := src.QueryContext(ctx, `SELECT serial_number, authority_key_identifier, body, expiry FROM ocsp_responses`)
	if err != nil {
		return st, fmt.Errorf("cfssl import: reading ocsp_responses: %w", err)
	}
	defer orows.Close()
	for orows.Next() {
		var (
			serial, aki string
			body        []byte
			expiry      any
		)
		if err := orows.Scan(&serial, &aki, &body, &expiry); err != nil {
			return st, fmt.Errorf("cfssl import: reading an OCSP row: %w", err)
		}
		next, _ := parseTime(expiry)
		if err := dst.PutOCSP(ctx, &sdk.OCSPRecord{Serial: serial, AKI: sdk.NormalizeAKI(aki), Response: body, NextUpdate: next}); err != nil {
			st.Skipped++
			fmt.Fprintf(progress, "skipped OCSP response for serial %s: %v\n", serial, err)
			continue
		}
		st.OCSP++
	}
	return st, orows.Err()
}

func importCert(ctx context.Context, dst sdk.CertStore, serial, aki, label, status string, reason int, revokedAt any, pemText string, st *Stats) error {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil || block.Type != "CERTIFICATE" {
		return errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	if cert.SerialNumber.String() != serial {
		return fmt.Errorf("row serial %s does not match the certificate's %s", serial, cert.SerialNumber)
	}
	rec := ca.Record(cert, label, "", nil)
	// The row's key is authoritative (CFSSL stores it even when the
	// certificate lacks an AKI extension).
	rec.AKI = sdk.NormalizeAKI(aki)
	if err := dst.Put(ctx, rec); err != nil {
		return err
	}
	st.Certificates++
	if status == sdk.StatusRevoked {
		t, _ := parseTime(revokedAt)
		if err := dst.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: rec.AKI, Reason: reason, RevokedAt: t}); err != nil {
			return fmt.Errorf("revoking: %w", err)
		}
		st.Revoked++
	}
	return nil
}

// parseTime reads a timestamp as the SQL drivers return it: time.Time, or
// text in the forms SQLite stores.
func parseTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), true
	case []byte:
		return parseTime(string(t))
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05"} {
			if p, err := time.Parse(layout, t); err == nil {
				return p.UTC(), true
			}
		}
	}
	return time.Time{}, false
}
