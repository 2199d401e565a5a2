package scan

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// fakeCheck is a small sdk.ScanCheck: "Connectivity/TLSDial" really dials
// the target (or its pinned IP) over TLS; "Slow/Wait" waits for its delay
// or the context, ignoring the context when stubborn.
type fakeCheck struct {
	delay    time.Duration
	stubborn bool
	// running counts the hosts being checked at once; peak is its maximum.
	running, peak atomic.Int32
	mu            sync.Mutex
	reqs          []sdk.ScanRequest
	fams          []sdk.ScanFamily
}

func newFake() *fakeCheck {
	return &fakeCheck{fams: []sdk.ScanFamily{
		{Name: "Connectivity", Description: "can the host be reached", Checks: []sdk.ScanCheckInfo{{Name: "TLSDial", Description: "a TLS handshake succeeds"}}},
		{Name: "Slow", Description: "takes its time", Checks: []sdk.ScanCheckInfo{{Name: "Wait", Description: "waits"}}},
	}}
}

func (f *fakeCheck) Close() error { return nil }

func (f *fakeCheck) Families(context.Context) ([]sdk.ScanFamily, error) { return f.fams, nil }

func (f *fakeCheck) requests() []sdk.ScanRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sdk.ScanRequest(nil), f.reqs...)
}

func (f *fakeCheck) Run(ctx context.Context, req sdk.ScanRequest, fn func(*sdk.Finding) error) error {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	switch req.Family + "/" + req.Check {
	case "Connectivity/TLSDial":
		addr := req.Host
		if req.IP != "" {
			_, port, _ := net.SplitHostPort(req.Host)
			addr = net.JoinHostPort(req.IP, port)
		}
		d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fn(&sdk.Finding{Family: req.Family, Check: req.Check, Grade: sdk.GradeBad, Reason: "tls dial failed"})
		}
		v := c.(*tls.Conn).ConnectionState().Version
		c.Close()
		out, _ := json.Marshal(tls.VersionName(v))
		return fn(&sdk.Finding{Family: req.Family, Check: req.Check, Grade: sdk.GradeGood, Output: out})
	case "Slow/Wait":
		if f.stubborn {
			time.Sleep(f.delay)
		} else {
			select {
			case <-time.After(f.delay):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return fn(&sdk.Finding{Family: req.Family, Check: req.Check, Grade: sdk.GradeSkipped, Reason: "nothing to wait for"})
	}
	return fmt.Errorf("%s/%s: %w", req.Family, req.Check, sdk.ErrNotFound)
}

// tlsServer serves TLS on loopback and returns its host:port.
func tlsServer(t testing.TB) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // scanners hang up mid-handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// closedPort returns a loopback host:port where nothing listens.
func closedPort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func newRunner(t testing.TB, opts Options) *Runner {
	t.Helper()
	r, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// collect runs r over targets and returns the results by host.
func collect(t testing.TB, ctx context.Context, r *Runner, targets ...Target) (map[string]*HostResult, error) {
	t.Helper()
	out := map[string]*HostResult{}
	err := r.Run(ctx, func(yield func(Target) bool) {
		for _, tg := range targets {
			if !yield(tg) {
				return
			}
		}
	}, func(h *HostResult) error {
		if out[h.Host] != nil {
			t.Errorf("host %s delivered twice", h.Host)
		}
		out[h.Host] = h
		return nil
	})
	return out, err
}
