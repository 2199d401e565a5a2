package storecfssl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pkid/pkid/internal/mysqltest"
	"github.com/pkid/pkid/plugins/store-cfssl/cfssldbtest"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// TestConfigureMySQLHostile: on a real MariaDB server, a wrong password, a
// database that does not exist, one without CFSSL's tables and one with
// only CFSSL's first migration are refused at Configure with one line
// that never shows the password.
func TestConfigureMySQLHostile(t *testing.T) {
	srv := mysqltest.Shared(t)
	empty := srv.NewDatabase(t)
	half := srv.NewDatabase(t)
	db, err := sql.Open("mysql", half)
	if err != nil {
		t.Fatal(err)
	}
	// Only CFSSL's first migration: the table lacks issued_at and the rest.
	for _, q := range cfssldbtest.Migrations(t, "mysql")[:2] {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	with := func(dsn string, edit func(*mysql.Config)) string {
		c, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		edit(c)
		return c.FormatDSN()
	}
	cases := []struct {
		name, dsn string
		want      []string
		is        error
	}{
		{"wrong password", with(empty, func(c *mysql.Config) { c.Passwd = "secret-pw" }), []string{"mysql", "Access denied"}, nil},
		{"no such database", with(empty, func(c *mysql.Config) { c.DBName = "no_such_db" }), []string{"mysql", "Unknown database 'no_such_db'"}, nil},
		{"no tables", empty, []string{"certificates table is missing"}, sdk.ErrFailedPrecondition},
		{"first migration only", half, []string{"certificates table", "lacks the columns", "issued_at"}, sdk.ErrFailedPrecondition},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := configure(t, cfssldbtest.WriteDBConfig(t, t.TempDir(), DriverMySQL, c.dsn))
			msg := err.Error()
			t.Log(msg)
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, "secret-pw") || strings.Contains(msg, mysqltest.Password) {
				t.Errorf("error is not one line without secrets: %q", msg)
			}
			if c.is == nil && strings.Contains(msg, "table is missing") {
				t.Errorf("error %q blames the tables", msg)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v does not wrap %v", err, c.is)
			}
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// Refusing wrote nothing: the empty database still has no table.
	db, err = sql.Open("mysql", empty)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the empty database has %d tables (%v)", n, err)
	}
}

// TestMySQLRowsAsCFSSL: pkid's rows in CFSSL's MySQL schema hold what CFSSL
// itself writes: a good certificate's revoked_at is the zero date, times
// are the certificate's to the second, and the schema is untouched.
func TestMySQLRowsAsCFSSL(t *testing.T) {
	dbc := newMySQLDB(t)
	raw, err := sql.Open("mysql", dbc.DataSource)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	schema := func() string {
		rows, err := raw.Query(`SELECT table_name, column_name, column_type, is_nullable, COALESCE(column_default, '')
			FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var a, c, d, e, f string
			if err := rows.Scan(&a, &c, &d, &e, &f); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, a, c, d, e, f)
		}
		return b.String()
	}
	before := schema()

	s := openTest(t, dbc)
	ctx := context.Background()
	rec := plugintest.NewCertRecord(1, "0a0b", "issuing", time.Now().Add(time.Hour))
	if err := s.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// Text, not the driver's time parsing: what any MySQL client sees.
	var revokedAt, expiry, status string
	if err := raw.QueryRow(`SELECT CAST(revoked_at AS CHAR), CAST(expiry AS CHAR), status FROM certificates
		WHERE serial_number = ?`, rec.Serial).Scan(&revokedAt, &expiry, &status); err != nil {
		t.Fatal(err)
	}
	if revokedAt != "0000-00-00 00:00:00" || status != "good" {
		t.Fatalf("good row: revoked_at %q status %q, want CFSSL's zero date and good", revokedAt, status)
	}
	var tz string
	if err := raw.QueryRow("SELECT @@session.time_zone").Scan(&tz); err != nil {
		t.Fatal(err)
	}
	if want := rec.NotAfter.UTC().Format(time.DateTime); tz == "SYSTEM" && time.Local == time.UTC && expiry != want {
		t.Fatalf("expiry stored as %q, want %q", expiry, want)
	}
	got, err := s.Get(ctx, rec.Serial, rec.AKI)
	if err != nil || !got.NotAfter.Equal(rec.NotAfter) || !got.RevokedAt.IsZero() {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: rec.AKI, Reason: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutOCSP(ctx, &sdk.OCSPRecord{Serial: rec.Serial, AKI: rec.AKI, Response: []byte{0x30, 0}, NextUpdate: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if after := schema(); after != before {
		t.Fatalf("schema changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestMySQLColumnLimits: CFSSL's MySQL schema keeps times in TIMESTAMP
// columns, which end in January 2038 on MariaDB before 11.5 and on MySQL,
// and PEM and responses in varbinary(4096). A record the columns cannot
// hold is refused alone, as an invalid argument; the rest of its batch is
// stored.
func TestMySQLColumnLimits(t *testing.T) {
	s := openTest(t, newMySQLDB(t))
	ctx := context.Background()
	var version string
	if err := s.r.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	far := plugintest.NewCertRecord(1, "0a0b", "issuing", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	near := plugintest.NewCertRecord(2, "0a0b", "issuing", time.Now().Add(time.Hour))
	big := plugintest.NewCertRecord(3, "0a0b", "issuing", time.Now().Add(time.Hour))
	// 3,100 bytes of DER are 4,200 of PEM.
	big.DER = append([]byte{0x30, 0x82, 0x0c, 0x18}, make([]byte, 3100)...)
	errs, err := s.PutBatch(ctx, []*sdk.CertRecord{far, near, big})
	if err != nil {
		t.Fatalf("PutBatch: %v", err)
	}
	for i, r := range []*sdk.CertRecord{far, big} {
		e := errs[2*i]
		if !errors.Is(e, sdk.ErrInvalidArgument) || !strings.Contains(e.Error(), "cannot hold it") || strings.Contains(e.Error(), "\n") {
			t.Errorf("record %s on %s: %v, want a one-line ErrInvalidArgument", r.Serial, version, e)
		}
		if _, err := s.Get(ctx, r.Serial, r.AKI); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("the refused record %s was stored: %v", r.Serial, err)
		}
	}
	if errs[1] != nil {
		t.Errorf("the batch's other record: %v", errs[1])
	}
	if _, err := s.Get(ctx, near.Serial, near.AKI); err != nil {
		t.Errorf("the stored record: %v", err)
	}
	err = s.PutOCSP(ctx, &sdk.OCSPRecord{Serial: near.Serial, AKI: near.AKI, Response: make([]byte, 5000), NextUpdate: time.Now().Add(time.Hour)})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("a 5,000-byte response: %v, want ErrInvalidArgument", err)
	}
}

// TestMySQLUnavailableMidway: a server that goes away after Open makes
// calls fail as ErrUnavailable within the timeout, not hang.
func TestMySQLUnavailableMidway(t *testing.T) {
	if testing.Short() {
		t.Skip("short: starts a private MariaDB")
	}
	srv := mysqltest.New(t)
	dsn := srv.NewDatabase(t)
	cfssldbtest.MigrateMySQL(t, dsn)
	s, err := Open(context.Background(), Options{DBConfig: DBConfig{Driver: DriverMySQL, DataSource: dsn}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = s.Get(ctx, "1", "0a0b")
	if !errors.Is(err, sdk.ErrUnavailable) || strings.Contains(err.Error(), mysqltest.Password) {
		t.Fatalf("Get with the server gone: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("took %v", d)
	}
}

// FuzzMySQLConfig: whatever follows "user:password@" in a data_source,
// mysqlConfig's error is one line and never holds the password; an
// accepted DSN names a database.
func FuzzMySQLConfig(f *testing.F) {
	for _, s := range []string{"tcp(127.0.0.1:3306)/certdb?parseTime=true", "tcp(h/db", "tcp(h:1)/",
		"unix(/run/mysqld.sock)/db?loc=Local", "tcp(h)/db?tls=nope", "tcp(h)/db?x=%zz", "tcp(h)/db?parseTime=maybe", "", "@"} {
		f.Add("Zq9-secret", s)
	}
	f.Add("p@ss:w", "/db")
	f.Fuzz(func(t *testing.T, pw, rest string) {
		dsn := "cfssl:" + pw + "@" + rest
		cfg, err := mysqlConfig(dsn)
		if err == nil {
			if cfg.DBName == "" {
				t.Fatalf("accepted %q without a database", dsn)
			}
			return
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\n\r") {
			t.Fatalf("multi-line error for %q: %q", dsn, msg)
		}
		// A short password may be any word of the message.
		if len(pw) >= 6 && !strings.Contains(dsnFixedMessage, pw) && strings.Contains(msg, pw) {
			t.Fatalf("error for %q holds the password: %q", dsn, msg)
		}
	})
}

// dsnFixedMessage is mysqlConfig's own text, which a password may match.
const dsnFixedMessage = "mysql data_source is not a valid DSN (want user:password@tcp(host:port)/dbname?parseTime=true) names no database"
