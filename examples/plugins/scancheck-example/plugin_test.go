package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

func configure(t *testing.T, js string) *lifetime {
	t.Helper()
	inst, err := New().Configure(t.Context(), sdk.Config{Kind: sdk.KindScanCheck, Instance: "t", JSON: []byte(js)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst.(*lifetime)
}

func TestConformanceInProcess(t *testing.T) {
	plugintest.TestScanCheck(t, func(t *testing.T) sdk.ScanCheck { return configure(t, `{"min_days":null}`) })
}

// The same kit through the plugin's gRPC server, as pkid runs it.
func TestConformanceGRPC(t *testing.T) {
	c := plugintest.ServeGRPC(t, New())
	n := 0
	plugintest.TestScanCheck(t, func(t *testing.T) sdk.ScanCheck {
		n++
		name := "inst" + string(rune('a'+n))
		plugintest.Configure(t, c, sdk.KindScanCheck, name, map[string]any{"min_days": nil})
		return c.ScanCheck(name)
	})
}

func TestPluginKit(t *testing.T) {
	plugintest.TestPlugin(t, New(), plugintest.PluginConfigs{
		Kind:  sdk.KindScanCheck,
		Valid: json.RawMessage(`{"min_days":60}`),
		Invalid: []plugintest.InvalidConfig{
			{Name: "min_days -1", JSON: json.RawMessage(`{"min_days":-1}`), Path: []string{"min_days"}},
			{Name: "min_days 5000", JSON: json.RawMessage(`{"min_days":5000}`), Path: []string{"min_days"}},
		},
	})
}

// The grade follows the served certificate's remaining lifetime.
func TestGrades(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	notAfter := srv.Certificate().NotAfter
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, tc := range []struct {
		now    time.Time
		grade  sdk.Grade
		reason string
	}{
		{notAfter.Add(-100 * 24 * time.Hour), sdk.GradeGood, ""},
		{notAfter.Add(-10 * 24 * time.Hour), sdk.GradeWarning, "expires in 10 days, fewer than 30"},
		{notAfter.Add(time.Hour), sdk.GradeBad, "expired on " + notAfter.UTC().Format(time.DateOnly)},
	} {
		l := configure(t, `{"min_days":30}`)
		l.now = func() time.Time { return tc.now }
		// The name is not resolvable: only the pinned IP reaches the server.
		var got []sdk.Finding
		err := l.Run(context.Background(), sdk.ScanRequest{Family: familyName, Check: checkName, Host: "name.invalid:" + port, IP: "127.0.0.1"},
			func(f *sdk.Finding) error { got = append(got, *f); return nil })
		if err != nil || len(got) != 1 || got[0].Grade != tc.grade || !strings.Contains(got[0].Reason, tc.reason) {
			t.Errorf("now %v: %+v, %v; want %s %q", tc.now, got, err, tc.grade, tc.reason)
		}
	}
}
