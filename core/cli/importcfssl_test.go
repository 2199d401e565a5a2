package cli

import (
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pkid/pkid/internal/pgtest"
	_ "modernc.org/sqlite"
)

// cfsslSchema is CFSSL's certdb (both SQLite migrations).
const cfsslSchema = `
CREATE TABLE certificates (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  ca_label                 blob,
  status                   blob NOT NULL,
  reason                   int,
  expiry                   timestamp,
  revoked_at               timestamp,
  pem                      blob NOT NULL,
  issued_at                timestamp,
  not_before               timestamp,
  metadata                 text,
  sans                     text,
  common_name              text,
  PRIMARY KEY(serial_number, authority_key_identifier)
);
CREATE TABLE ocsp_responses (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  body                     blob NOT NULL,
  expiry                   timestamp,
  PRIMARY KEY(serial_number, authority_key_identifier),
  FOREIGN KEY(serial_number, authority_key_identifier) REFERENCES certificates(serial_number, authority_key_identifier)
);`

// cfsslPGSchema is CFSSL's PostgreSQL certdb.
const cfsslPGSchema = `
CREATE TABLE certificates (
  serial_number            bytea NOT NULL,
  authority_key_identifier bytea NOT NULL,
  ca_label                 bytea,
  status                   bytea NOT NULL,
  reason                   int,
  expiry                   timestamptz,
  revoked_at               timestamptz,
  pem                      bytea NOT NULL,
  issued_at                timestamptz,
  not_before               timestamptz,
  metadata                 jsonb,
  sans                     jsonb,
  common_name              text,
  PRIMARY KEY(serial_number, authority_key_identifier)
);
CREATE TABLE ocsp_responses (
  serial_number            bytea NOT NULL,
  authority_key_identifier bytea NOT NULL,
  body                     bytea NOT NULL,
  expiry                   timestamptz,
  PRIMARY KEY(serial_number, authority_key_identifier),
  FOREIGN KEY(serial_number, authority_key_identifier) REFERENCES certificates(serial_number, authority_key_identifier)
);`

// A CFSSL certdb on PostgreSQL imports like the SQLite one.
func TestImportCFSSLPostgres(t *testing.T) {
	cfg, dir := configuredCA(t)
	dsn := pgtest.Shared(t).NewDatabase(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(cfsslPGSchema); err != nil {
		t.Fatal(err)
	}
	caOut := decodeResult(t, pkid(t, "gencert", "-initca", writeFile(t, dir, "ca.json", caJSON)))
	caPEM := writeFile(t, dir, "cfssl-ca.pem", caOut["cert"])
	caKey := writeFile(t, dir, "cfssl-ca-key.pem", caOut["key"])
	m := decodeResult(t, pkid(t, "gencert", "-ca", caPEM, "-ca-key", caKey, writeFile(t, dir, "leaf.json", leafJSON)))
	b, _ := pem.Decode([]byte(m["cert"]))
	c, _ := x509.ParseCertificate(b.Bytes)
	if _, err := db.Exec(`INSERT INTO certificates (serial_number, authority_key_identifier, ca_label, status, reason, expiry, revoked_at, pem)
		VALUES ($1, $2, $3, 'revoked', 4, $4, $5, $6)`,
		[]byte(c.SerialNumber.String()), []byte(hex.EncodeToString(c.AuthorityKeyId)), []byte("cfssl-pg"), c.NotAfter, time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC), []byte(m["cert"])); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		r := pkid(t, "certstore", "main", "import-cfssl", "-from", dsn, "-config", cfg)
		if r.code != 0 || !strings.Contains(r.stdout, "1 certificates (1 revoked), 0 OCSP responses; 0 rows skipped") {
			t.Fatalf("round %d: %+v", round, r)
		}
	}
	r := pkid(t, "certstore", "main", "list", "-config", cfg, "-issuer", "cfssl-pg", "-status", "revoked", "-format", "json")
	var recs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 1 || recs[0]["revocation_reason"].(float64) != 4 ||
		!strings.HasPrefix(recs[0]["revoked_at"].(string), "2026-02-03T04:05:06") {
		t.Fatalf("imported record: %v %+v", err, r)
	}
}

func TestImportCFSSL(t *testing.T) {
	cfg, dir := configuredCA(t)
	// Three certificates from a CA, as CFSSL would have recorded them.
	caOut := decodeResult(t, pkid(t, "gencert", "-initca", writeFile(t, dir, "ca.json", caJSON)))
	caPEM := writeFile(t, dir, "cfssl-ca.pem", caOut["cert"])
	caKey := writeFile(t, dir, "cfssl-ca-key.pem", caOut["key"])
	leaf := writeFile(t, dir, "leaf.json", leafJSON)
	src := filepath.Join(dir, "certdb.db")
	db, err := sql.Open("sqlite", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(cfsslSchema); err != nil {
		t.Fatal(err)
	}
	var serials, akis []string
	for i := range 3 {
		m := decodeResult(t, pkid(t, "gencert", "-ca", caPEM, "-ca-key", caKey, leaf))
		b, _ := pem.Decode([]byte(m["cert"]))
		c, _ := x509.ParseCertificate(b.Bytes)
		status, reason, revokedAt := "good", 0, any(nil)
		if i == 2 {
			status, reason, revokedAt = "revoked", 1, "2026-01-02 03:04:05+00:00"
		}
		if _, err := db.Exec(`INSERT INTO certificates (serial_number, authority_key_identifier, ca_label, status, reason, expiry, revoked_at, pem, issued_at, not_before, metadata, sans, common_name)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'null', '["www.example.com"]', 'www.example.com')`,
			c.SerialNumber.String(), hex.EncodeToString(c.AuthorityKeyId), "cfssl", status, reason, c.NotAfter, revokedAt, m["cert"], c.NotBefore, c.NotBefore); err != nil {
			t.Fatal(err)
		}
		serials = append(serials, c.SerialNumber.String())
		akis = append(akis, hex.EncodeToString(c.AuthorityKeyId))
	}
	if _, err := db.Exec(`INSERT INTO ocsp_responses VALUES (?, ?, ?, ?)`, serials[0], akis[0], []byte{0x30, 0x03, 0x0a, 0x01, 0x00}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for round := range 2 { // the second import changes nothing
		args := []string{"certstore", "main", "import-cfssl", "-from", "sqlite:" + src, "-config", cfg}
		if round == 1 {
			args = append(args, "-progress")
		}
		r := pkid(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "3 certificates (1 revoked), 1 OCSP responses; 0 rows skipped") {
			t.Fatalf("round %d: %+v", round, r)
		}
		// Progress only with -progress (stderr is not a terminal here),
		// ending with its summary.
		if summary := strings.Contains(r.stderr, "pkid: certstore import-cfssl: done: 3 certificates read in "); summary != (round == 1) {
			t.Errorf("round %d: progress summary %v: %q", round, summary, r.stderr)
		}
		r = pkid(t, "certstore", "main", "list", "-config", cfg, "-issuer", "cfssl", "-format", "json")
		var recs []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 3 {
			t.Fatalf("round %d: list: %v %+v", round, err, r)
		}
		revoked := 0
		for _, rec := range recs {
			if rec["status"] == "revoked" {
				revoked++
				if rec["revocation_reason"].(float64) != 1 || !strings.HasPrefix(rec["revoked_at"].(string), "2026-01-02T03:04:05") {
					t.Errorf("revocation not carried over: %v", rec)
				}
			}
		}
		if revoked != 1 {
			t.Errorf("round %d: %d revoked, want 1", round, revoked)
		}
	}
	// The source is opened read-only and left as it was.
	if r := pkid(t, "certstore", "main", "import-cfssl", "-from", "sqlite:"+filepath.Join(dir, "missing.db"), "-config", cfg); r.code == 0 || !strings.Contains(r.stderr, "missing.db") {
		t.Errorf("missing source: %+v", r)
	}
}
