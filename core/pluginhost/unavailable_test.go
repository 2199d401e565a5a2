package pluginhost_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/internal/pgtest"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// A PostgreSQL outage says "unavailable" once, however many layers the
// error crosses: the plugin's wrap, the gRPC stream, the facade, and a
// restart that fails because the database is still down.
func TestPostgresOutageSaysUnavailableOnce(t *testing.T) {
	c := pgtest.New(t)
	dsn := c.NewDatabase(t)
	h := newHost(t)
	cfg, _ := json.Marshal(map[string]any{"dsn": dsn, "max_conns": nil, "connect_timeout": "2s"})
	inst, err := h.Open(context.Background(), pluginhost.OpenRequest{Spec: builtin(t, sdk.KindCertStore, "postgres"), Name: "pg", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	cs := inst.(sdk.CertStore)
	ctx := context.Background()
	na := time.Now().Add(time.Hour)
	if err := cs.Put(ctx, plugintest.NewCertRecord(1, "ab", "i", na)); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	once := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, sdk.ErrUnavailable) {
			t.Fatalf("%s: %v; want ErrUnavailable", what, err)
		}
		if n := strings.Count(err.Error(), sdk.ErrUnavailable.Error()); n != 1 {
			t.Errorf("%s says %q %d times: %v", what, sdk.ErrUnavailable, n, err)
		}
	}
	once("put while the database is down", cs.Put(ctx, plugintest.NewCertRecord(2, "ab", "i", na)))

	// The process dies; its restart cannot configure the instance while
	// the database is down.
	proc := h.Processes()[0]
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for proc.Status().LastError == "" {
		if time.Now().After(deadline) {
			t.Fatalf("status never reports the failed restart: %+v", proc.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	once("put while the restart fails", cs.Put(ctx, plugintest.NewCertRecord(3, "ab", "i", na)))
	once("health while the restart fails", proc.Check(ctx))
}
