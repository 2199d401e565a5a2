package storesqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// openTest opens a store in a fresh temp dir and closes it at cleanup.
func openTest(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Path: path, BusyTimeout: DefaultBusyTimeout})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	plugintest.TestCertStore(t, func(t *testing.T) sdk.CertStore {
		return openTest(t, filepath.Join(t.TempDir(), "certs.db"))
	})
}

// TestConformanceViaPlugin runs the kit on instances made by Configure.
func TestConformanceViaPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	p := New()
	plugintest.TestCertStore(t, func(t *testing.T) sdk.CertStore {
		cfg := sdk.Config{Kind: sdk.KindCertStore, Instance: "main",
			JSON: json.RawMessage(`{"path":` + quote(filepath.Join(t.TempDir(), "db", "certs.db")) + `,"busy_timeout":null}`)}
		inst, err := p.Configure(context.Background(), cfg)
		if err != nil {
			t.Fatalf("Configure: %v", err)
		}
		t.Cleanup(func() { inst.Close() })
		cs, ok := inst.(sdk.CertStore)
		if !ok {
			t.Fatalf("instance %T is not a CertStore", inst)
		}
		if _, ok := inst.(sdk.BatchPutter); !ok {
			t.Fatalf("instance %T is not a BatchPutter", inst)
		}
		return cs
	})
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "store")
	path := filepath.Join(dir, "certs.db")
	s := openTest(t, path)
	ctx := context.Background()
	if err := s.Put(ctx, plugintest.NewCertRecord(1, "ab", "i", time.Now())); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", p, got, want)
		}
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "certs.db")
	ctx := context.Background()
	rec := plugintest.NewCertRecord(7, "0a1b", "issuing", time.Now().Add(time.Hour))
	s, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: rec.AKI, Reason: 6}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 2 { // migrations are idempotent across reopen
		s = openTest(t, path)
		got, err := s.Get(ctx, rec.Serial, rec.AKI)
		if err != nil {
			t.Fatalf("Get after reopen: %v", err)
		}
		if got.Status != sdk.StatusRevoked || got.RevocationReason != 6 {
			t.Fatalf("after reopen: status %q reason %d", got.Status, got.RevocationReason)
		}
		var n, v int
		if err := s.r.QueryRow("SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		if n != SchemaVersion() || v != SchemaVersion() {
			t.Fatalf("schema_migrations has %d rows, max %d; want %d", n, v, SchemaVersion())
		}
		s.Close()
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "certs.db")
	s := openTest(t, path)
	if _, err := s.w.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(context.Background(), Options{Path: path})
	if !errors.Is(err, sdk.ErrFailedPrecondition) || !strings.Contains(err.Error(), "schema version 999 is newer") {
		t.Fatalf("Open of a newer database: %v", err)
	}
}

func TestWALAndSynchronous(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "certs.db"))
	var mode string
	var sync, fk int
	if err := s.w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := s.w.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if err := s.w.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 || fk != 1 {
		t.Fatalf("journal_mode %q synchronous %d foreign_keys %d; want wal 2 (FULL) 1", mode, sync, fk)
	}
	// Readers are read-only.
	if _, err := s.r.Exec("DELETE FROM certificates"); err == nil {
		t.Fatal("read pool accepted a write")
	}
}

// TestReadDuringWrite checks a reader is not blocked by an open write
// transaction.
func TestReadDuringWrite(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "certs.db"))
	ctx := context.Background()
	rec := plugintest.NewCertRecord(1, "ab", "i", time.Now())
	if err := s.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("UPDATE certificates SET subject = 'x'"); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	got, err := s.Get(rctx, rec.Serial, rec.AKI)
	if err != nil || got.Subject != rec.Subject {
		t.Fatalf("Get during a write transaction: %v, %v", got, err)
	}
}

func TestAKINormalised(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "certs.db"))
	ctx := context.Background()
	rec := plugintest.NewCertRecord(1, "AB:CD:EF", "i", time.Now())
	if err := s.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, rec.Serial, "abcdef")
	if err != nil || got.AKI != "abcdef" {
		t.Fatalf("Get with canonical AKI: %v, %v", got, err)
	}
	if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: "ab:cd:ef", Reason: 1}); err != nil {
		t.Fatal(err)
	}
}

func TestNumericSerialOrder(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "certs.db"))
	ctx := context.Background()
	na := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, serial := range []string{"100", "9", "20", "1"} {
		r := plugintest.NewCertRecord(1, "ab", "i", na)
		r.Serial, r.DER = serial, []byte(serial)
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := s.List(ctx, sdk.ListFilter{}, func(r *sdk.CertRecord) error {
		got = append(got, r.Serial)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "1,9,20,100" {
		t.Fatalf("order %v, want 1,9,20,100", got)
	}
}

// TestListUsesIndex guards the streaming plan: no full sort of the table.
func TestListUsesIndex(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "certs.db"))
	for _, f := range []sdk.ListFilter{{}, {IssuerLabel: "x"}, {Status: "revoked"}, {AKI: "ab"}, {ExpiresBefore: time.Now()}} {
		q, args := listQuery(f)
		rows, err := s.r.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if strings.Contains(p, "USE TEMP B-TREE FOR ORDER BY") {
			t.Errorf("List(%+v) sorts the whole result: %s", f, p)
		}
		t.Logf("%+v: %s", f, p)
	}
}

func TestPutRejectsBadRecords(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "certs.db"))
	ctx := context.Background()
	for name, mutate := range map[string]func(*sdk.CertRecord){
		"status":   func(r *sdk.CertRecord) { r.Status = "expired" },
		"reason":   func(r *sdk.CertRecord) { r.Status, r.RevocationReason = sdk.StatusRevoked, 7 },
		"metadata": func(r *sdk.CertRecord) { r.Metadata = json.RawMessage("{") },
		"notafter": func(r *sdk.CertRecord) { r.NotAfter = time.Time{} },
	} {
		r := plugintest.NewCertRecord(1, "ab", "i", time.Now())
		mutate(r)
		if err := s.Put(ctx, r); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("Put with bad %s: %v", name, err)
		}
	}
	if err := s.PutOCSP(ctx, &sdk.OCSPRecord{Serial: "1", AKI: "ab"}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("PutOCSP without response: %v", err)
	}
}

func TestBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "certs.db")
	s := openTest(t, path)
	// A second handle (another process, in effect) holds the write lock.
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	if _, err := s.w.Exec("PRAGMA busy_timeout = 50"); err != nil {
		t.Fatal(err)
	}
	err = s.Put(context.Background(), plugintest.NewCertRecord(1, "ab", "i", time.Now()))
	if !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("Put while another connection holds the lock: %v", err)
	}
}

// Any file name works: '?', '#' and '%' are escaped in the driver URI, so
// they neither start parameters nor a fragment, and nothing lands elsewhere.
func TestOddPathCharacters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a?mode=ro#x%20y", "pkid.db")
	s, err := Open(context.Background(), Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	rec := plugintest.NewCertRecord(1, "ab", "ca", time.Now().Add(time.Hour))
	if err := s.Put(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the configured path: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files created beside the configured directory: %v", entries)
	}
	s, err = Open(context.Background(), Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(context.Background(), rec.Serial, rec.AKI); err != nil {
		t.Fatalf("reopen: %v", err)
	}
}
