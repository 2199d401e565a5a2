package storecfssl

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pkid/pkid/internal/pgtest"
	"github.com/pkid/pkid/plugins/store-cfssl/cfssldbtest"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// configure runs Configure on a block naming a db-config file.
func configure(t *testing.T, dbConfig string) error {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"db_config": dbConfig, "driver": nil, "data_source": nil, "read_only": nil, "unlabelled_ca": nil, "timeout": "1s"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	inst, err := New().Configure(ctx, sdk.Config{Kind: sdk.KindCertStore, Instance: "main", JSON: cfg})
	if err == nil {
		inst.Close()
		return errors.New("Configure accepted it")
	}
	return err
}

// TestConfigureHostile: every bad database is refused at Configure with a
// one-line error naming what is wrong, and nothing is written.
func TestConfigureHostile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A port nothing listens on: bind one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	empty := write("empty.db", "", 0o600) // an SQLite database without CFSSL's tables
	readOnly := cfssldbtest.NewSQLite(t)
	if err := os.Chmod(readOnly, 0o444); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.db")
	cases := []struct {
		name, dbConfig string
		want           []string
		is             error
	}{
		{"not JSON", write("a.json", `{"driver": "sqlite3",`, 0o600), []string{"db-config", "not JSON"}, nil},
		{"not an object", write("b.json", `["sqlite3"]`, 0o600), []string{"db-config", "not a db-config object"}, nil},
		{"no data_source", write("c.json", `{"driver":"sqlite3"}`, 0o600), []string{"data_source", "missing"}, nil},
		{"unknown driver", write("d.json", `{"driver":"oracle","data_source":"x"}`, 0o600), []string{"unknown driver", "oracle"}, nil},
		{"mysql bad DSN", write("e.json", `{"driver":"mysql","data_source":"cfssl:secret-pw@tcp(127.0.0.1/certdb"}`, 0o600), []string{"mysql", "not a valid DSN", "missing closing brace"}, nil},
		{"no file", filepath.Join(dir, "nope.json"), []string{"db-config", "no such file"}, nil},
		{"missing sqlite file", cfssldbtest.WriteDBConfig(t, t.TempDir(), "sqlite3", missing), []string{"data_source", "no such file"}, nil},
		{"tables missing", cfssldbtest.WriteDBConfig(t, t.TempDir(), "sqlite3", empty), []string{"certificates table is missing"}, sdk.ErrFailedPrecondition},
		{"read-only file", cfssldbtest.WriteDBConfig(t, t.TempDir(), "sqlite3", readOnly), []string{"read-only"}, sdk.ErrFailedPrecondition},
		{"unreachable mysql", cfssldbtest.WriteDBConfig(t, t.TempDir(), "mysql",
			fmt.Sprintf("cfssl:secret-pw@tcp(127.0.0.1:%d)/certdb?parseTime=true", closedPort)), []string{"mysql", "connection refused"}, sdk.ErrUnavailable},
		{"unreachable postgres", cfssldbtest.WriteDBConfig(t, t.TempDir(), "postgres",
			fmt.Sprintf("postgres://cfssl:secret-pw@127.0.0.1:%d/certdb?sslmode=disable", closedPort)), []string{"postgres"}, sdk.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := configure(t, c.dbConfig)
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, "secret-pw") {
				t.Errorf("error is not one line without secrets: %q", msg)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v does not wrap %v", err, c.is)
			}
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// Nothing written: no file created, the empty one still empty, the
	// read-only one unchanged.
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing SQLite file was created: %v", err)
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Errorf("the database without tables was written: %v, %d bytes", err, fi.Size())
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), "-journal") || strings.HasSuffix(e.Name(), "-wal") {
			t.Errorf("a journal was left: %s", e.Name())
		}
	}
}

// TestReadOnly: a store opened read_only refuses every write before
// touching the database and still reads.
func TestReadOnly(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dbc := b.newDB(t)
			rw := openTest(t, dbc)
			rec := plugintest.NewCertRecord(1, "0a0b", "issuing", time.Now().Add(time.Hour))
			if err := rw.Put(ctx, rec); err != nil {
				t.Fatal(err)
			}
			ro, err := Open(ctx, Options{DBConfig: dbc, ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			if _, err := ro.Get(ctx, rec.Serial, rec.AKI); err != nil {
				t.Fatalf("read-only Get: %v", err)
			}
			other := plugintest.NewCertRecord(2, "0a0b", "issuing", time.Now().Add(time.Hour))
			for name, err := range map[string]error{
				"Put":     ro.Put(ctx, other),
				"Revoke":  ro.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: rec.AKI, Reason: 1}),
				"PutOCSP": ro.PutOCSP(ctx, &sdk.OCSPRecord{Serial: rec.Serial, AKI: rec.AKI, Response: []byte{0x30, 0}, NextUpdate: time.Now()}),
			} {
				if !errors.Is(err, sdk.ErrFailedPrecondition) {
					t.Errorf("read-only %s: %v, want ErrFailedPrecondition", name, err)
				}
			}
			if got, _ := rw.Get(ctx, rec.Serial, rec.AKI); got.Status != sdk.StatusGood {
				t.Fatal("a read-only Revoke changed the row")
			}
		})
	}
}

// TestSchemaUntouched: the store's writes leave CFSSL's schema as CFSSL's
// migrations made it (no table, column or index added).
func TestSchemaUntouched(t *testing.T) {
	path := cfssldbtest.NewSQLite(t)
	schema := func() string {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query("SELECT type, name, sql FROM sqlite_master ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var typ, name string
			var q sql.NullString
			if err := rows.Scan(&typ, &name, &q); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %s %s\n", typ, name, q.String)
		}
		return b.String()
	}
	before := schema()
	s := openTest(t, DBConfig{Driver: DriverSQLite, DataSource: path})
	ctx := context.Background()
	rec := plugintest.NewCertRecord(1, "0a0b", "issuing", time.Now().Add(time.Hour))
	if err := s.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.PutOCSP(ctx, &sdk.OCSPRecord{Serial: rec.Serial, AKI: rec.AKI, Response: []byte{0x30, 0}, NextUpdate: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if after := schema(); after != before {
		t.Fatalf("schema changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// FuzzParseDBConfig: any input is either refused or a config Check accepts.
func FuzzParseDBConfig(f *testing.F) {
	for _, s := range []string{`{"driver":"sqlite3","data_source":"certs.db"}`, `{"driver":"postgres","data_source":"postgres://u@h/db"}`,
		`{"driver":"mysql"}`, `[]`, `{"driver":1}`, `{} {}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseDBConfig(data)
		if err == nil && c.Check() != nil {
			t.Fatalf("accepted %q, which Check refuses", data)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
	})
}

// FuzzMetadata: whatever the record's metadata and profile, what Put writes
// into the metadata column reads back as the same metadata and profile, and
// any column content decodes without panicking.
func FuzzMetadata(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2]`, `"x"`, `{"pkid":{"profile":"p"}}`, `{}`, `null`, ``} {
		f.Add([]byte(s), "server")
	}
	f.Fuzz(func(t *testing.T, meta []byte, profile string) {
		_, _, _ = decodeMetadata(meta)
		if len(meta) > 0 && !json.Valid(meta) || string(meta) == "null" {
			return
		}
		rec := &sdk.CertRecord{Subject: "CN=x", Profile: profile, DER: []byte{0x30, 0}, Metadata: meta}
		col, err := encodeMetadata(rec, derive(rec.DER))
		if err != nil {
			t.Fatalf("encodeMetadata(%q, %q): %v", meta, profile, err)
		}
		got, ex, err := decodeMetadata([]byte(col))
		// JSON carries valid UTF-8 only: other profiles come back repaired.
		if err != nil || utf8.ValidString(profile) && ex.Profile != profile {
			t.Fatalf("profile %q: got %q, %v (column %s)", profile, ex.Profile, err, col)
		}
		var a, b any
		if (len(got) == 0) != (len(meta) == 0) {
			t.Fatalf("metadata %q read back as %q (column %s)", meta, got, col)
		}
		if len(meta) > 0 {
			_ = json.Unmarshal(meta, &a)
			_ = json.Unmarshal(got, &b)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("metadata %s read back as %s (column %s)", meta, got, col)
			}
		}
	})
}

// TestPutOCSPWithoutCertificate: on PostgreSQL CFSSL's foreign key refuses
// a response for no certificate; the store says so as ErrNotFound.
func TestPutOCSPWithoutCertificate(t *testing.T) {
	s := openTest(t, backends[1].newDB(t))
	err := s.PutOCSP(context.Background(), &sdk.OCSPRecord{Serial: "5", AKI: "0a0b", Response: []byte{0x30, 0}, NextUpdate: time.Now()})
	if !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("PutOCSP for no certificate: %v, want ErrNotFound", err)
	}
}

// TestConfigurePostgresSchema: on PostgreSQL a database without CFSSL's
// tables and a database that does not exist are told apart.
func TestConfigurePostgresSchema(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t) // empty: no CFSSL tables
	dir := t.TempDir()
	err := configure(t, cfssldbtest.WriteDBConfig(t, dir, DriverPostgres, dsn))
	if !errors.Is(err, sdk.ErrFailedPrecondition) || !strings.Contains(err.Error(), "certificates table is missing") {
		t.Errorf("empty database: %v", err)
	}
	i := strings.LastIndex(dsn, "/")
	j := strings.Index(dsn[i:], "?")
	nodb := dsn[:i] + "/no_such_db" + dsn[i+j:]
	err = configure(t, cfssldbtest.WriteDBConfig(t, dir, DriverPostgres, nodb))
	if err == nil || strings.Contains(err.Error(), "table is missing") || !strings.Contains(err.Error(), "no_such_db") {
		t.Errorf("missing database: %v", err)
	}
}

// TestUnlabelledCA: rows CFSSL wrote without a label belong to the
// configured CA: they read under its label and its listings include them,
// while other labels' rows stay apart.
func TestUnlabelledCA(t *testing.T) {
	ctx := context.Background()
	dbc := backends[0].newDB(t)
	raw := openTest(t, dbc)
	at := time.Now().Add(time.Hour)
	bare := plugintest.NewCertRecord(1, "0a0b", "", at)
	other := plugintest.NewCertRecord(2, "0a0b", "other", at)
	mine := plugintest.NewCertRecord(3, "0a0b", "issuing", at)
	for _, r := range []*sdk.CertRecord{bare, other, mine} {
		if err := raw.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(ctx, Options{DBConfig: dbc, UnlabelledCA: "issuing"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Get(ctx, bare.Serial, bare.AKI); err != nil || got.IssuerLabel != "issuing" {
		t.Fatalf("unlabelled row read as %+v, %v", got, err)
	}
	var serials []string
	if err := s.List(ctx, sdk.ListFilter{IssuerLabel: "issuing"}, func(r *sdk.CertRecord) error {
		serials = append(serials, r.Serial)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(serials, ",") != bare.Serial+","+mine.Serial {
		t.Fatalf("List issuing = %v, want %s and %s", serials, bare.Serial, mine.Serial)
	}
	if got, _ := raw.Get(ctx, bare.Serial, bare.AKI); got.IssuerLabel != "" {
		t.Fatalf("without unlabelled_ca the row reads as %q", got.IssuerLabel)
	}
}
