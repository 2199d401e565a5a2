package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/core/egress"
	"github.com/pkid/pkid/core/scan"
	"github.com/pkid/pkid/sdk"
)

// dialCheck is a small sdk.ScanCheck: Connectivity/TLSDial dials the
// target (its pinned IP) over TLS; Slow/Wait blocks until its context ends
// or release is closed. It records the addresses it was asked to dial.
type dialCheck struct {
	release chan struct{}
	started chan struct{}
	mu      sync.Mutex
	dialled []string
}

func (d *dialCheck) Close() error { return nil }

func (d *dialCheck) Families(context.Context) ([]sdk.ScanFamily, error) {
	return []sdk.ScanFamily{
		{Name: "Connectivity", Description: "reachability", Checks: []sdk.ScanCheckInfo{{Name: "TLSDial", Description: "a TLS handshake succeeds"}}},
		{Name: "Slow", Description: "waits", Checks: []sdk.ScanCheckInfo{{Name: "Wait", Description: "until released"}}},
	}, nil
}

func (d *dialCheck) Run(ctx context.Context, req sdk.ScanRequest, fn func(*sdk.Finding) error) error {
	_, port, _ := net.SplitHostPort(req.Host)
	addr := net.JoinHostPort(req.IP, port)
	if req.Family == "Slow" {
		d.started <- struct{}{}
		select {
		case <-d.release:
		case <-ctx.Done():
			return ctx.Err()
		}
		return fn(&sdk.Finding{Family: req.Family, Check: req.Check, Grade: sdk.GradeGood})
	}
	d.mu.Lock()
	d.dialled = append(d.dialled, addr)
	d.mu.Unlock()
	c, err := (&tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return fn(&sdk.Finding{Family: req.Family, Check: req.Check, Grade: sdk.GradeBad, Reason: "tls dial failed"})
	}
	c.Close()
	return fn(&sdk.Finding{Family: req.Family, Check: req.Check, Grade: sdk.GradeGood, Output: json.RawMessage(`"ok"`)})
}

func scanTarget(t *testing.T) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// scanEnv is a server with scan on, allowing 127.0.0.0/8 only.
func scanEnv(t *testing.T, maxConcurrent int) (*testEnv, *dialCheck) {
	t.Helper()
	chk := &dialCheck{release: make(chan struct{}), started: make(chan struct{}, 8)}
	allow, err := egress.New([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := scan.New(t.Context(), scan.Options{Checks: []sdk.ScanCheck{chk}, Policy: allow})
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, plainConfig, func(o *Options) { o.Scan = &ScanOptions{Runner: r, MaxConcurrent: maxConcurrent} })
	return env, chk
}

func (e *testEnv) get(t *testing.T, endpoint string, q url.Values) *response {
	t.Helper()
	return e.do(t, http.MethodGet, endpoint+"?"+q.Encode(), nil)
}

func TestScanEndpoint(t *testing.T) {
	env, chk := scanEnv(t, 2)
	target := scanTarget(t)
	r := env.get(t, "scan", url.Values{"host": {target}, "family": {"Conn"}})
	wantOK(t, r)
	if string(r.Result) != `{"Connectivity":{"TLSDial":{"grade":"Good","output":"ok"}}}` {
		t.Errorf("scan result %s", r.Result)
	}
	r = env.get(t, "scaninfo", nil)
	wantOK(t, r)
	want := `{"Connectivity":{"description":"reachability","scanners":{"TLSDial":{"description":"a TLS handshake succeeds"}}},"Slow":{"description":"waits","scanners":{"Wait":{"description":"until released"}}}}`
	if string(r.Result) != want {
		t.Errorf("scaninfo result %s\nwant %s", r.Result, want)
	}
	// ip pins the dial (inside the allowlist).
	_, port, _ := net.SplitHostPort(target)
	wantOK(t, env.get(t, "scan", url.Values{"host": {"name.test:" + port}, "ip": {"127.0.0.1"}, "family": {"Conn"}}))
	chk.mu.Lock()
	defer chk.mu.Unlock()
	if len(chk.dialled) != 2 || chk.dialled[1] != "127.0.0.1:"+port {
		t.Errorf("dialled %q", chk.dialled)
	}
}

// Hostile callers get one clear 4xx each and nothing is dialled outside
// the allowlist.
func TestScanEndpointHostile(t *testing.T) {
	env, chk := scanEnv(t, 2)
	long := strings.Repeat("a", 300)
	for _, tc := range []struct {
		q      url.Values
		status int
		msg    string
	}{
		{url.Values{}, 400, "no host given"},
		{url.Values{"host": {""}}, 400, "no host given"},
		{url.Values{"host": {"10.0.0.1:443"}}, 403, "10.0.0.1:443: egress: 10.0.0.1 is not on the allowlist"},
		{url.Values{"host": {"[::1]:443"}}, 403, "[::1]:443: egress: ::1 is not on the allowlist"},
		{url.Values{"host": {"127.0.0.1:443"}, "ip": {"192.0.2.7"}}, 403, "127.0.0.1:443: egress: 192.0.2.7 is not on the allowlist"},
		{url.Values{"host": {"127.0.0.1"}, "ip": {"not-an-ip"}}, 400, "invalid ip given"},
		{url.Values{"host": {"bad host\n"}}, 400, "invalid host"},
		{url.Values{"host": {"127.0.0.1:99999"}}, 400, "invalid host"},
		{url.Values{"host": {"127.0.0.1"}, "timeout": {"0s"}}, 400, "invalid timeout given"},
		{url.Values{"host": {"127.0.0.1"}, "timeout": {"6m"}}, 400, "invalid timeout given"},
		{url.Values{"host": {"127.0.0.1"}, "timeout": {"soon"}}, 400, "invalid timeout given"},
		{url.Values{"host": {"127.0.0.1"}, "family": {"("}}, 400, "family filter"},
		{url.Values{"host": {"127.0.0.1"}, "scanner": {"nothing-matches"}}, 400, "no scanner matches"},
		{url.Values{"host": {"127.0.0.1"}, "family": {long}}, 400, "limited to 256 bytes"},
		{url.Values{"host": {"127.0.0.0/8"}}, 400, "invalid host"},
		{url.Values{"host": {strings.Repeat("a.", 100000)}}, 400, "invalid host: longer than 300 bytes"},
	} {
		r := env.get(t, "scan", tc.q)
		if r.Status != tc.status || r.Success || len(r.Errors) != 1 || r.Errors[0].Code != tc.status || !strings.Contains(r.Errors[0].Message, tc.msg) {
			t.Errorf("scan?%s: %d %s, want %d with %q", tc.q.Encode(), r.Status, r.Raw, tc.status, tc.msg)
		}
	}
	if r := env.do(t, http.MethodPost, "scan?host=127.0.0.1", nil); r.Status != 405 {
		t.Errorf("POST scan: %d", r.Status)
	}
	if len(chk.dialled) != 0 {
		t.Errorf("hostile requests dialled %q", chk.dialled)
	}
}

// At most MaxConcurrent scans run; the next is 429 at once, and a
// request's timeout bounds its scan.
func TestScanEndpointBounds(t *testing.T) {
	env, chk := scanEnv(t, 1)
	done := make(chan *response, 1)
	start := time.Now()
	go func() {
		done <- env.get(t, "scan", url.Values{"host": {"127.0.0.1"}, "family": {"Slow"}, "timeout": {"1s"}})
	}()
	<-chk.started
	r := env.get(t, "scan", url.Values{"host": {"127.0.0.2"}, "family": {"Slow"}})
	wantError(t, r, http.StatusTooManyRequests, http.StatusTooManyRequests, "too many scans in progress (at most 1)")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	first := <-done
	el := time.Since(start)
	wantOK(t, first)
	if el < time.Second || el > 3*time.Second {
		t.Errorf("a 1s scan took %v", el)
	}
	if !strings.Contains(string(first.Result), `"grade":"Bad","error":"timed out: the host's 1s deadline passed"`) {
		t.Errorf("timed-out scan result %s", first.Result)
	}
	// The slot is free again.
	close(chk.release)
	wantOK(t, env.get(t, "scan", url.Values{"host": {"127.0.0.1"}, "family": {"Slow"}}))
}

func TestScanOffByDefault(t *testing.T) {
	env := newEnv(t, plainConfig, nil)
	for _, ep := range []string{"scan", "scaninfo"} {
		wantError(t, env.get(t, ep, url.Values{"host": {"127.0.0.1"}}), 404, 404, "not found")
	}
	// An unrestricted runner is refused: the daemon only scans an allowlist.
	r, err := scan.New(t.Context(), scan.Options{Checks: []sdk.ScanCheck{&dialCheck{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Scan: &ScanOptions{Runner: r}}); err == nil || !strings.Contains(err.Error(), "allowlist") {
		t.Errorf("New with an unrestricted scan runner: %v", err)
	}
	r, err = scan.New(t.Context(), scan.Options{Checks: []sdk.ScanCheck{&dialCheck{}}, Policy: egress.Unrestricted()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Scan: &ScanOptions{Runner: r}}); err == nil || !strings.Contains(err.Error(), "allowlist") {
		t.Errorf("New with a scan runner under an unrestricted policy: %v", err)
	}
	// Disabling scan is allowed and turns both off.
	env = newEnv(t, plainConfig, func(o *Options) {
		allow, _ := egress.New([]string{"127.0.0.1"})
		rr, _ := scan.New(context.Background(), scan.Options{Checks: []sdk.ScanCheck{&dialCheck{}}, Policy: allow})
		o.Scan, o.Disabled = &ScanOptions{Runner: rr}, []string{"scan"}
	})
	wantError(t, env.get(t, "scan", url.Values{"host": {"127.0.0.1"}}), 404, 404, "not found")
	wantOK(t, env.get(t, "scaninfo", nil))
}
