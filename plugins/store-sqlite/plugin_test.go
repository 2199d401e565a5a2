package storesqlite

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pkid/pkid/sdk"
)

func TestInfoAndSchema(t *testing.T) {
	p := New()
	info := p.Info()
	if info.Name != "sqlite" || info.Version != "0.1.0" || !slices.Equal(info.Kinds, []string{sdk.KindCertStore}) {
		t.Fatalf("Info = %+v", info)
	}
	s := p.Schema(sdk.KindCertStore)
	if s == nil || len(s.Attributes) != 2 {
		t.Fatalf("Schema = %+v", s)
	}
	if a := s.Attributes[0]; a.Name != "path" || !a.Required || a.Type != sdk.TypeString {
		t.Errorf("path attribute = %+v", a)
	}
	if a := s.Attributes[1]; a.Name != "busy_timeout" || a.Required || a.Default != `"5s"` {
		t.Errorf("busy_timeout attribute = %+v", a)
	}
	if p.Schema(sdk.KindKeyStore) != nil {
		t.Error("Schema(keystore) is not nil")
	}
}

func TestValidateConfig(t *testing.T) {
	for _, tc := range []struct {
		json string
		path []string // nil: valid
	}{
		{`{"path":"/tmp/x.db","busy_timeout":null}`, nil},
		{`{"path":"/tmp/x.db","busy_timeout":"250ms"}`, nil},
		{`{"path":null,"busy_timeout":null}`, []string{"path"}},
		{`{"path":"","busy_timeout":null}`, []string{"path"}},
		{`{"path":":memory:"}`, []string{"path"}},
		{`{"path":"/tmp/x.db?mode=ro"}`, nil}, // an odd but valid file name
		{`{"path":"file:/tmp/x.db"}`, []string{"path"}},
		{`{"path":"/tmp/x.db","busy_timeout":"soon"}`, []string{"busy_timeout"}},
		{`{"path":"/tmp/x.db","busy_timeout":"-1s"}`, []string{"busy_timeout"}},
	} {
		d := New().ValidateConfig(context.Background(), sdk.Config{Kind: sdk.KindCertStore, Instance: "x", JSON: json.RawMessage(tc.json)})
		switch {
		case tc.path == nil && d.HasErrors():
			t.Errorf("%s: unexpected %v", tc.json, d)
		case tc.path != nil && (!d.HasErrors() || !slices.Equal(d[0].Path, tc.path)):
			t.Errorf("%s: diagnostics %+v, want an error at %v", tc.json, d, tc.path)
		}
	}
}

func TestConfigureBadConfig(t *testing.T) {
	_, err := New().Configure(context.Background(), sdk.Config{Kind: sdk.KindCertStore, JSON: json.RawMessage(`{"path":null}`)})
	var de *sdk.DiagnosticsError
	if !errors.As(err, &de) {
		t.Fatalf("Configure with no path: %v (%T), want *sdk.DiagnosticsError", err, err)
	}
}

func TestConfigureBusyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "certs.db")
	inst, err := New().Configure(context.Background(), sdk.Config{Kind: sdk.KindCertStore,
		JSON: json.RawMessage(`{"path":` + quote(path) + `,"busy_timeout":"1500ms"}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	var ms int
	if err := inst.(*Store).w.QueryRow("PRAGMA busy_timeout").Scan(&ms); err != nil || ms != 1500 {
		t.Fatalf("busy_timeout = %d, %v; want 1500", ms, err)
	}
}
