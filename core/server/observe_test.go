package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/lint"
)

// recorder is an Observer that keeps what it saw; failCommit makes
// Commit fail.
type recorder struct {
	mu         sync.Mutex
	commits    []*Event
	done       []*Event
	failCommit bool
}

func (r *recorder) Commit(_ context.Context, ev *Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commits = append(r.commits, ev)
	if r.failCommit {
		return errors.New("disk full")
	}
	return nil
}

func (r *recorder) Done(_ context.Context, ev *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, ev)
}

func (r *recorder) last() *Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done[len(r.done)-1]
}

func TestObserver(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, plainConfig, func(o *Options) { o.Observer = rec })

	// An issuance: committed before the reply, with the certificate.
	r := e.post(t, "sign", map[string]string{"certificate_request": string(makeCSR(t, "a.example.com", "a.example.com")), "profile": "server", "label": "secondary"})
	wantOK(t, r)
	cert := certOf(t, r, "certificate")
	if len(rec.commits) != 1 || rec.commits[0].Issued == nil || rec.commits[0].Issued.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Fatalf("commit of the issuance: %+v", rec.commits)
	}
	if ev := rec.last(); ev.Endpoint != "sign" || ev.Label != "secondary" || ev.Profile != "server" || ev.Status != 200 || ev.Duration <= 0 || ev.RequestID != r.Header.Get("X-Request-Id") {
		t.Fatalf("done event %+v", ev)
	}

	// Request values that name nothing configured never reach the event's
	// label fields: a caller cannot grow the metrics' series.
	for i, body := range []map[string]string{
		{"certificate_request": string(makeCSR(t, "b.example.com")), "profile": "no-such-profile\n", "label": "primary"},
		{"certificate_request": string(makeCSR(t, "b.example.com")), "profile": "server", "label": "no-such-label"},
	} {
		if r := e.post(t, "sign", body); r.Status != http.StatusBadRequest {
			t.Fatalf("%d: %d %s", i, r.Status, r.Raw)
		}
		if ev := rec.last(); ev.Profile != "" || (i == 1 && ev.Label != "") || ev.Err == nil || ev.Issued != nil {
			t.Fatalf("%d: event %+v", i, ev)
		}
	}
	if len(rec.commits) != 1 {
		t.Fatalf("failed requests were committed: %d", len(rec.commits))
	}

	// A token where none is configured is an authentication failure.
	e.post(t, "sign", map[string]string{"token": "AAAA", "request": "eyJjZXJ0aWZpY2F0ZV9yZXF1ZXN0IjoieCJ9"})
	if ev := rec.last(); !ev.AuthFailure() {
		t.Fatalf("not an auth failure: %+v (%v)", ev, ev.Err)
	}

	// A failing Commit answers 503 without the certificate.
	rec.failCommit = true
	r = e.post(t, "sign", map[string]string{"certificate_request": string(makeCSR(t, "c.example.com", "c.example.com")), "profile": "server"})
	if r.Status != http.StatusServiceUnavailable || strings.Contains(string(r.Raw), "CERTIFICATE") || !strings.Contains(string(r.Raw), "audit log is unavailable") {
		t.Fatalf("sign with a failing commit: %d %s", r.Status, r.Raw)
	}
	if ev := rec.last(); ev.Status != http.StatusServiceUnavailable {
		t.Fatalf("done after a failed commit: %+v", ev)
	}
}

func TestEventLintRefusals(t *testing.T) {
	err := &ca.Error{Code: ca.CodePolicyViolation, Msg: "certificate refused", Err: &lint.RefusalError{Findings: []lint.Finding{{Name: "e_one"}, {Name: "w_two"}}}}
	if got := (&Event{Err: err}).LintRefusals(); strings.Join(got, ",") != "e_one,w_two" {
		t.Fatalf("lint refusals %v", got)
	}
	if got := (&Event{Err: errors.New("other")}).LintRefusals(); got != nil {
		t.Fatalf("lint refusals of another error: %v", got)
	}
}
