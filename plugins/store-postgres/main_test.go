package storepostgres

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/pkid/pkid/internal/pgtest"
	"github.com/pkid/pkid/sdk"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newDSN returns the DSN of a fresh database on the shared cluster.
func newDSN(t testing.TB) string {
	t.Helper()
	return pgtest.Shared(t).NewDatabase(t)
}

// openTest opens a store on a fresh database and closes it at cleanup.
func openTest(t testing.TB) *Store {
	t.Helper()
	return openDSN(t, newDSN(t))
}

func openDSN(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{DSN: dsn})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// configJSON renders a certstore block's decoded value.
func configJSON(t testing.TB, dsn string, extra map[string]any) json.RawMessage {
	t.Helper()
	m := map[string]any{"dsn": dsn, "max_conns": nil, "connect_timeout": nil}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func certstoreConfig(t testing.TB, dsn string, extra map[string]any) sdk.Config {
	return sdk.Config{Kind: sdk.KindCertStore, Instance: "main", JSON: configJSON(t, dsn, extra)}
}
