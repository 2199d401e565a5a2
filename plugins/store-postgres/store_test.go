package storepostgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// freePort returns a TCP port on 127.0.0.1 nothing listens on.
func freePort(t testing.TB) string {
	t.Helper()
	p, err := testtool.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}

func schemaVersions(t testing.TB, s *Store) (n, max int) {
	t.Helper()
	if err := s.pool.QueryRow(context.Background(),
		"SELECT COUNT(*), COALESCE(MAX(version), 0) FROM "+migrationsTable).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	return n, max
}

func TestReopen(t *testing.T) {
	dsn := newDSN(t)
	ctx := context.Background()
	rec := plugintest.NewCertRecord(7, "0a1b", "issuing", time.Now().Add(time.Hour))
	s, err := Open(ctx, Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: rec.AKI, Reason: 6}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for range 2 { // migrations are idempotent across reopen
		s := openDSN(t, dsn)
		got, err := s.Get(ctx, rec.Serial, rec.AKI)
		if err != nil {
			t.Fatalf("Get after reopen: %v", err)
		}
		if got.Status != sdk.StatusRevoked || got.RevocationReason != 6 {
			t.Fatalf("after reopen: status %q reason %d", got.Status, got.RevocationReason)
		}
		if n, v := schemaVersions(t, s); n != SchemaVersion() || v != SchemaVersion() {
			t.Fatalf("%s has %d rows, max %d; want %d", migrationsTable, n, v, SchemaVersion())
		}
		s.Close()
	}
}

// TestMigrationRace: nodes starting together on a new database all
// succeed and the schema is applied once.
func TestMigrationRace(t *testing.T) {
	dsn := newDSN(t)
	const nodes = 4
	p := New()
	var wg sync.WaitGroup
	insts := make([]sdk.Instance, nodes)
	errs := make([]error, nodes)
	start := make(chan struct{})
	for i := range nodes {
		wg.Go(func() {
			<-start
			insts[i], errs[i] = p.Configure(context.Background(), certstoreConfig(t, dsn, nil))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: Configure: %v", i, err)
		}
		defer insts[i].Close()
	}
	s := insts[0].(*Store)
	if n, v := schemaVersions(t, s); n != SchemaVersion() || v != SchemaVersion() {
		t.Fatalf("%s has %d rows, max %d; want %d", migrationsTable, n, v, SchemaVersion())
	}
	// Every node can write and sees the others' records.
	ctx := context.Background()
	for i, inst := range insts {
		if err := inst.(*Store).Put(ctx, plugintest.NewCertRecord(int64(i), "ab", "i", time.Now())); err != nil {
			t.Fatalf("node %d: Put: %v", i, err)
		}
	}
	n := 0
	if err := s.List(ctx, sdk.ListFilter{}, func(*sdk.CertRecord) error { n++; return nil }); err != nil || n != nodes {
		t.Fatalf("List: %d records, %v; want %d", n, err, nodes)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dsn := newDSN(t)
	s := openDSN(t, dsn)
	if _, err := s.pool.Exec(context.Background(),
		"INSERT INTO "+migrationsTable+" (version, name) VALUES (999, '0999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(context.Background(), Options{DSN: dsn})
	if !errors.Is(err, sdk.ErrFailedPrecondition) || !strings.Contains(err.Error(), "schema version 999 is newer") {
		t.Fatalf("Open of a newer database: %v", err)
	}
}

// TestFailedMigrationLeavesNothing: DDL is transactional, so a failing
// step leaves neither tables nor a version row.
func TestFailedMigrationLeavesNothing(t *testing.T) {
	dsn := newDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// A conflicting object makes 0001 fail half-way (after certificates).
	if _, err := conn.Exec(ctx, "CREATE TABLE ocsp_responses (x int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Options{DSN: dsn}); err == nil || !strings.Contains(err.Error(), "migration 0001_init.sql") {
		t.Fatalf("Open with a conflicting table: %v", err)
	}
	var tables []string
	rows, _ := conn.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tables, ",") != "ocsp_responses" {
		t.Fatalf("tables after a failed migration: %v", tables)
	}
}

func TestAKINormalised(t *testing.T) {
	s := openTest(t)
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
	n := 0
	if err := s.List(ctx, sdk.ListFilter{AKI: "AB:CD:EF"}, func(*sdk.CertRecord) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("List by a colon AKI: %d records, %v", n, err)
	}
}

func TestNumericSerialOrder(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	na := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, serial := range []string{"100", "9", "20", "1", "0", "123456789012345678901234567890"} {
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
	if strings.Join(got, ",") != "0,1,9,20,100,123456789012345678901234567890" {
		t.Fatalf("order %v", got)
	}
}

func TestPutRejectsBadRecords(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for name, mutate := range map[string]func(*sdk.CertRecord){
		"status":        func(r *sdk.CertRecord) { r.Status = "expired" },
		"reason":        func(r *sdk.CertRecord) { r.Status, r.RevocationReason = sdk.StatusRevoked, 7 },
		"metadata":      func(r *sdk.CertRecord) { r.Metadata = json.RawMessage("{") },
		"metadata nul":  func(r *sdk.CertRecord) { r.Metadata = json.RawMessage(`{"a":"\u0000"}`) },
		"notafter":      func(r *sdk.CertRecord) { r.NotAfter = time.Time{} },
		"notafter year": func(r *sdk.CertRecord) { r.NotAfter = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"hex serial":    func(r *sdk.CertRecord) { r.Serial = "0a1b" },
		"leading zero":  func(r *sdk.CertRecord) { r.Serial = "0123" },
		"negative":      func(r *sdk.CertRecord) { r.Serial = "-5" },
		"nul subject":   func(r *sdk.CertRecord) { r.Subject = "CN=a\x00b" },
		"bad utf8 san":  func(r *sdk.CertRecord) { r.SANs = []string{"\xff"} },
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
	if _, err := s.Get(ctx, "1\x00", "ab"); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("Get with a NUL serial: %v", err)
	}
	if _, err := s.Get(ctx, "0a1b", "ab"); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Get with a hex serial: %v", err)
	}
}

// TestBatchIsOneTransaction guards the assumption PutBatch rests on: a
// pgx batch outside a transaction runs as one implicit transaction, so a
// failing statement undoes the earlier ones.
func TestBatchIsOneTransaction(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	r, err := s.certRow(plugintest.NewCertRecord(1, "ab", "i", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	b.Queue(insertCert, r.args...)
	b.Queue("SELECT 1/0")
	if err := s.pool.SendBatch(ctx, b).Close(); err == nil {
		t.Fatal("batch with a division by zero succeeded")
	}
	if _, err := s.Get(ctx, r.serial, r.aki); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("a failed batch left its first insert behind (Get: %v)", err)
	}
}

// TestConcurrentConflictingBatches: batches from several nodes that insert
// the same keys in different orders neither deadlock nor disagree.
func TestConcurrentConflictingBatches(t *testing.T) {
	dsn := newDSN(t)
	nodes := []*Store{openDSN(t, dsn), openDSN(t, dsn), openDSN(t, dsn)}
	ctx := context.Background()
	na := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for round := range 20 {
		for i, s := range nodes {
			batch := make([]*sdk.CertRecord, 32)
			for k := range batch {
				n := int64(round*32 + k)
				if i%2 == 1 {
					n = int64(round*32 + 31 - k) // reverse order
				}
				batch[k] = plugintest.NewCertRecord(n, "ab", "i", na)
			}
			wg.Go(func() {
				errs, err := s.PutBatch(ctx, batch)
				if err != nil {
					t.Errorf("node %d: PutBatch: %v", i, err)
					return
				}
				for k, err := range errs {
					if err != nil {
						t.Errorf("node %d record %d: %v", i, k, err)
					}
				}
			})
		}
	}
	wg.Wait()
	var n int
	if err := nodes[0].pool.QueryRow(ctx, "SELECT COUNT(*) FROM certificates").Scan(&n); err != nil || n != 20*32 {
		t.Fatalf("%d rows, %v; want %d", n, err, 20*32)
	}
}

// TestListUsesIndex guards the inventory indexes: on a table too large for
// a sequential scan, every filter uses an index, and a limited listing
// reads not_after in index order (sorting only within equal not_after), so
// it streams without sorting the whole result first.
func TestListUsesIndex(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `INSERT INTO certificates (serial, aki, issuer_label, not_after, der, status)
		SELECT g::text, 'ab' || (g % 7)::text, 'issuer-' || (g % 5)::text,
			'2030-01-01'::timestamptz + (g % 1000) * interval '1 hour', '\x30'::bytea, 'good'
		FROM generate_series(1, 20000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE certificates"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []sdk.ListFilter{{Limit: 100}, {IssuerLabel: "issuer-1", Limit: 100}, {Status: "revoked"},
		{AKI: "ab3", Limit: 100}, {ExpiresBefore: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)}} {
		q, args := listQuery(f)
		rows, err := s.pool.Query(ctx, "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		p := strings.Join(plan, "\n")
		if strings.Contains(p, "Seq Scan") {
			t.Errorf("List(%+v) scans the whole table:\n%s", f, p)
		}
		if f.Limit > 0 && !strings.Contains(p, "Presorted Key: not_after") {
			t.Errorf("List(%+v) does not read not_after in index order:\n%s", f, p)
		}
		t.Logf("%+v:\n%s", f, p)
	}
}
