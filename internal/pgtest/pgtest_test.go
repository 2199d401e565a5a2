package pgtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func query(t *testing.T, dsn string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT 41 + 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSharedDatabases(t *testing.T) {
	c := Shared(t)
	a, b := c.NewDatabase(t), c.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share a DSN: %s", a)
	}
	if Shared(t) != c {
		t.Fatal("Shared started a second cluster")
	}
	for _, dsn := range []string{a, b} {
		if n := query(t, dsn); n != 42 {
			t.Fatalf("query = %d", n)
		}
	}
	var fsync string
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "on" {
		t.Fatalf("fsync = %q, %v; want on", fsync, err)
	}
}

func TestStopStartRestart(t *testing.T) {
	c := New(t)
	dsn := c.NewDatabase(t)
	query(t, dsn)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, dsn); err == nil {
		conn.Close(ctx)
		t.Fatal("connected to a stopped cluster")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	query(t, dsn)
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	query(t, dsn)
	dir := c.Dir()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cluster directory left behind: %v", err)
	}
}

func TestSanitize(t *testing.T) {
	if got := sanitize("TestX/Sub_Test-1"); got != "testx_sub_test_1" {
		t.Fatalf("sanitize = %q", got)
	}
	if got := sanitize(string(make([]byte, 100))); len(got) != 48 {
		t.Fatalf("sanitize kept %d characters, want 48", len(got))
	}
}
