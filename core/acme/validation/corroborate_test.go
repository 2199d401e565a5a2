package validation

import (
	"context"
	"strings"
	"testing"
	"time"
)

// fixed is a perspective that answers a prepared view after a delay.
type fixed struct {
	view  View
	delay time.Duration
	panic bool
}

func (f fixed) Validate(ctx context.Context, req Request) View {
	if f.panic {
		panic("boom")
	}
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
	}
	return f.view
}

func ok(name string, addrs ...string) fixed {
	return fixed{view: View{Perspective: name, OK: true, Addresses: addrs}}
}

func no(name, typ, detail string, addrs ...string) fixed {
	return fixed{view: View{Perspective: name, Problem: &Problem{Type: typ, Detail: detail}, Addresses: addrs}}
}

func TestCorroborate(t *testing.T) {
	tests := []struct {
		name    string
		primary Validator
		remotes []Validator
		quorum  int
		ok      bool
		problem string
		detail  []string // substrings of the problem detail
	}{
		{name: "all agree", primary: ok("p"), remotes: []Validator{ok("a"), ok("b"), ok("c")}, quorum: 2, ok: true},
		{name: "quorum met with one dissent", primary: ok("p"), remotes: []Validator{ok("a"), no("b", ProblemIncorrectResponse, "saw junk"), ok("c")}, quorum: 2, ok: true},
		{name: "quorum missed", primary: ok("p"),
			remotes: []Validator{ok("a"), no("b", ProblemIncorrectResponse, "answered \"x\"", "127.0.0.9"), no("c", ProblemConnection, "refused")}, quorum: 2,
			problem: ProblemIncorrectResponse, detail: []string{"1 of 3 remote perspectives agreed, quorum 2", `b (at 127.0.0.9): answered "x"`, "c: refused"}},
		{name: "primary refuses", primary: no("p", ProblemDNS, "NXDOMAIN"), remotes: []Validator{ok("a"), ok("b")}, quorum: 2,
			problem: ProblemDNS, detail: []string{"primary perspective refused", "p: NXDOMAIN"}},
		{name: "quorum zero needs only the primary", primary: ok("p"), remotes: []Validator{no("a", ProblemCAA, "forbidden")}, quorum: 0, ok: true},
		{name: "no remotes", primary: ok("p"), quorum: 0, ok: true},
		{name: "quorum above remotes", primary: ok("p"), remotes: []Validator{ok("a")}, quorum: 2, problem: ProblemServerInternal, detail: []string{"cannot be met"}},
		{name: "panicking remote", primary: ok("p"), remotes: []Validator{ok("a"), fixed{panic: true}}, quorum: 2, problem: ProblemServerInternal, detail: []string{"perspective 2", "boom"}},
		{name: "nil remote", primary: ok("p"), remotes: []Validator{ok("a"), nil}, quorum: 2, problem: ProblemServerInternal, detail: []string{"not configured"}},
		// A view claiming OK with a problem, or refusing without one, is a refusal.
		{name: "contradictory view", primary: ok("p"),
			remotes: []Validator{ok("a"), fixed{view: View{Perspective: "b", OK: true, Problem: &Problem{Type: ProblemCAA, Detail: "x"}}}}, quorum: 2,
			problem: ProblemCAA, detail: []string{"b: x"}},
		{name: "refusal without problem", primary: ok("p"), remotes: []Validator{ok("a"), fixed{view: View{}}}, quorum: 2,
			problem: ProblemServerInternal, detail: []string{"perspective 2 refused without a problem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Corroborate(context.Background(), tt.primary, tt.remotes, tt.quorum, httpReq("x.test"))
			if d.OK != tt.ok {
				t.Fatalf("OK %v, want %v: %+v", d.OK, tt.ok, d.Problem)
			}
			if len(d.Views) != 1+len(tt.remotes) {
				t.Fatalf("%d views", len(d.Views))
			}
			if d.Views[0].Perspective != "p" {
				t.Errorf("first view is %q, want the primary", d.Views[0].Perspective)
			}
			if tt.ok {
				if d.Problem != nil {
					t.Errorf("problem on success: %+v", d.Problem)
				}
				return
			}
			if d.Problem == nil || d.Problem.Type != tt.problem {
				t.Fatalf("problem %+v, want type %s", d.Problem, tt.problem)
			}
			for _, s := range tt.detail {
				if !strings.Contains(d.Problem.Detail, s) {
					t.Errorf("detail %q lacks %q", d.Problem.Detail, s)
				}
			}
		})
	}
}

// Perspectives are asked at once, and the context bounds the decision.
func TestCorroborateConcurrent(t *testing.T) {
	slow := func(name string) fixed { f := ok(name); f.delay = 300 * time.Millisecond; return f }
	start := time.Now()
	d := Corroborate(context.Background(), slow("p"), []Validator{slow("a"), slow("b"), slow("c")}, 3, httpReq("x.test"))
	if !d.OK || time.Since(start) > 800*time.Millisecond {
		t.Fatalf("OK %v after %v", d.OK, time.Since(start))
	}
}
