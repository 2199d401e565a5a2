package storepostgres

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

func TestInfoAndSchema(t *testing.T) {
	p := New()
	info := p.Info()
	if info.Name != "postgres" || info.Version != "0.1.0" || !slices.Equal(info.Kinds, []string{sdk.KindCertStore}) {
		t.Fatalf("Info = %+v", info)
	}
	s := p.Schema(sdk.KindCertStore)
	if s == nil || len(s.Attributes) != 3 {
		t.Fatalf("Schema = %+v", s)
	}
	if a := s.Attributes[0]; a.Name != "dsn" || !a.Required || !a.Sensitive || a.Type != sdk.TypeString {
		t.Errorf("dsn attribute = %+v", a)
	}
	if a := s.Attributes[1]; a.Name != "max_conns" || a.Required || a.Type != sdk.TypeNumber {
		t.Errorf("max_conns attribute = %+v", a)
	}
	if a := s.Attributes[2]; a.Name != "connect_timeout" || a.Required || a.Default != `"5s"` {
		t.Errorf("connect_timeout attribute = %+v", a)
	}
	if p.Schema(sdk.KindKeyStore) != nil {
		t.Error("Schema(keystore) is not nil")
	}
}

func TestValidateConfig(t *testing.T) {
	const good = `"postgres://pkid:s3cretpw@db.example:5432/pkid?sslmode=verify-full"`
	for _, tc := range []struct {
		json string
		path []string // nil: valid
	}{
		{`{"dsn":` + good + `,"max_conns":null,"connect_timeout":null}`, nil},
		{`{"dsn":"host=db user=pkid password=s3cretpw dbname=pkid","max_conns":8,"connect_timeout":"250ms"}`, nil},
		{`{"dsn":null}`, []string{"dsn"}},
		{`{"dsn":"  "}`, []string{"dsn"}},
		{`{"dsn":"postgres://pkid:s3cretpw@db.example:notaport/pkid"}`, []string{"dsn"}},
		{`{"dsn":"host=db password=s3cretpw port=x"}`, []string{"dsn"}},
		{`{"dsn":"postgres://pkid:s3cretpw@db.example/pkid?sslmode=sometimes"}`, []string{"dsn"}},
		{`{"dsn":` + good + `,"max_conns":1}`, []string{"max_conns"}},
		{`{"dsn":` + good + `,"max_conns":2.5}`, []string{"max_conns"}},
		{`{"dsn":` + good + `,"connect_timeout":"soon"}`, []string{"connect_timeout"}},
		{`{"dsn":` + good + `,"connect_timeout":"0s"}`, []string{"connect_timeout"}},
	} {
		d := New().ValidateConfig(context.Background(), sdk.Config{Kind: sdk.KindCertStore, Instance: "x", JSON: json.RawMessage(tc.json)})
		switch {
		case tc.path == nil && d.HasErrors():
			t.Errorf("%s: unexpected %v", tc.json, d)
		case tc.path != nil && (!d.HasErrors() || !slices.Equal(d[0].Path, tc.path)):
			t.Errorf("%s: diagnostics %+v, want an error at %v", tc.json, d, tc.path)
		}
		if msg := d.Err(); msg != nil && strings.Contains(msg.Error(), "s3cretpw") {
			t.Errorf("%s: diagnostics echo the password: %v", tc.json, msg)
		}
		for _, diag := range d {
			if strings.Contains(diag.Summary+diag.Detail, "s3cretpw") {
				t.Errorf("%s: diagnostic echoes the password: %+v", tc.json, diag)
			}
		}
	}
}

func TestConfigureBadConfig(t *testing.T) {
	_, err := New().Configure(context.Background(), sdk.Config{Kind: sdk.KindCertStore, JSON: json.RawMessage(`{"dsn":null}`)})
	var de *sdk.DiagnosticsError
	if !errors.As(err, &de) {
		t.Fatalf("Configure with no dsn: %v (%T), want *sdk.DiagnosticsError", err, err)
	}
}

// TestConfigureUnreachable: a server that is not there fails Configure
// quickly with a retryable error.
func TestConfigureUnreachable(t *testing.T) {
	port := freePort(t)
	start := time.Now()
	_, err := New().Configure(context.Background(), certstoreConfig(t,
		"postgres://postgres:s3cretpw@127.0.0.1:"+port+"/pkid?sslmode=disable", map[string]any{"connect_timeout": "2s"}))
	if !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("Configure against a closed port: %v, want sdk.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Configure took %v, want at most about connect_timeout", d)
	}
	if strings.Contains(err.Error(), "s3cretpw") {
		t.Fatalf("error echoes the password: %v", err)
	}
}

func TestConfigureOptions(t *testing.T) {
	inst, err := New().Configure(context.Background(), certstoreConfig(t, newDSN(t),
		map[string]any{"max_conns": 3, "connect_timeout": "1500ms"}))
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	cfg := inst.(*Store).pool.Config()
	if cfg.MaxConns != 3 || cfg.ConnConfig.ConnectTimeout != 1500*time.Millisecond {
		t.Fatalf("max_conns %d connect_timeout %v; want 3, 1.5s", cfg.MaxConns, cfg.ConnConfig.ConnectTimeout)
	}
}

// TestConfigureSilentServer: a server that accepts TCP but never answers
// (hung, or a black-holing firewall) fails within about connect_timeout.
func TestConfigureSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	start := time.Now()
	_, err = New().Configure(context.Background(), certstoreConfig(t,
		"postgres://postgres@"+l.Addr().String()+"/pkid?sslmode=disable", map[string]any{"connect_timeout": "500ms"}))
	if !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("Configure against a silent server: %v, want sdk.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("Configure took %v, want about connect_timeout (500ms)", d)
	}
}
