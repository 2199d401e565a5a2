package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/devmode"
	"github.com/pkid/pkid/core/pluginhost"
)

// A scan block turns the endpoints on for its allowlist only, with the
// builtin checks.
func TestDaemonScan(t *testing.T) {
	loaded := devConfig(t, "  scan {\n    allow = [\"127.0.0.0/8\"]\n    max_concurrent = 1\n    isolation = \"inprocess\"\n  }\n")
	host := pluginhost.New(pluginhost.Options{Logger: hclog.NewNullLogger()})
	t.Cleanup(host.Close)
	d, err := daemon.New(context.Background(), loaded, daemon.Options{
		Listen: "127.0.0.1:0", Host: host,
		Log: hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Warn}),
		Bootstrap: func(ctx context.Context, base string) error {
			return devmode.Bootstrap(ctx, loaded, base, io.Discard)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return")
		}
		d.Close()
	})
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	target.Config.ErrorLog = log.New(io.Discard, "", 0)
	target.StartTLS()
	t.Cleanup(target.Close)

	base := d.URL() + "/api/v1/cfssl/"
	call := func(q url.Values) (int, map[string]json.RawMessage) {
		resp, err := (&http.Client{Timeout: 60 * time.Second}).Get(base + "scan?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env map[string]json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, env
	}
	status, env := call(url.Values{"host": {target.Listener.Addr().String()}, "family": {"^Connectivity$"}, "scanner": {"^T"}, "timeout": {"20s"}})
	if status != 200 || !strings.Contains(string(env["result"]), `"TCPDial":{"grade":"Good"}`) {
		t.Errorf("scan of an allowed loopback endpoint: %d %s", status, env["result"])
	}
	status, env = call(url.Values{"host": {"192.0.2.1:443"}})
	if status != 403 || !strings.Contains(string(env["errors"]), "192.0.2.1 is not on the allowlist") {
		t.Errorf("scan outside the allowlist: %d %s", status, env["errors"])
	}
	var info map[string]json.RawMessage
	if err := json.Unmarshal(get(t, base+"scaninfo"), &info); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(info["result"]), `"Mozilla":{"description"`) {
		t.Errorf("scaninfo: %s", info["result"])
	}
}

// Without a scan block both endpoints are 404.
func TestDaemonScanOff(t *testing.T) {
	d, _, _ := startDaemon(t, devConfig(t, ""))
	for _, ep := range []string{"scan?host=127.0.0.1", "scaninfo"} {
		resp, err := http.Get(d.URL() + "/api/v1/cfssl/" + ep)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", ep, resp.StatusCode)
		}
	}
}
