package scan

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/egress"
	"github.com/pkid/pkid/sdk"
)

func TestRunLoopback(t *testing.T) {
	up, down := tlsServer(t), closedPort(t)
	f := newFake()
	r := newRunner(t, Options{Checks: []sdk.ScanCheck{f}, Family: "Connectivity", Timeout: 10 * time.Second})
	got, err := collect(t, t.Context(), r, Target{Host: up}, Target{Host: down})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d hosts, want 2", len(got))
	}
	ok := got[up].Results["Connectivity"]["TLSDial"]
	if ok.Grade != GradeGood || string(ok.Output) != `"TLS 1.3"` || ok.Error != "" || got[up].Grade != GradeGood {
		t.Errorf("%s: %+v (overall %s), want Good with output \"TLS 1.3\"", up, ok, got[up].Grade)
	}
	bad := got[down].Results["Connectivity"]["TLSDial"]
	if bad.Grade != GradeBad || bad.Error != "tls dial failed" || got[down].Grade != GradeBad {
		t.Errorf("%s: %+v (overall %s), want Bad with the check's reason", down, bad, got[down].Grade)
	}
	if _, ok := got[up].Results["Slow"]; ok {
		t.Error("the family filter let Slow run")
	}
}

func TestFilters(t *testing.T) {
	for _, tc := range []struct {
		family, scanner string
		want            []string
		err             string
	}{
		{"", "", []string{"Connectivity/TLSDial", "Slow/Wait"}, ""},
		{"^Slow$", "", []string{"Slow/Wait"}, ""},
		{"", "Dial", []string{"Connectivity/TLSDial"}, ""},
		{"Slow", "Dial", nil, "no scanner matches"},
		{"(", "", nil, "family filter"},
		{"", "[", nil, "scanner filter"},
	} {
		r, err := New(t.Context(), Options{Checks: []sdk.ScanCheck{newFake()}, Family: tc.family, Scanner: tc.scanner})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("family %q scanner %q: %v, want an error with %q", tc.family, tc.scanner, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range r.plans {
			names = append(names, p.family+"/"+p.name)
		}
		if strings.Join(names, " ") != strings.Join(tc.want, " ") {
			t.Errorf("family %q scanner %q selects %q, want %q", tc.family, tc.scanner, names, tc.want)
		}
	}
	if _, err := New(t.Context(), Options{Checks: []sdk.ScanCheck{newFake(), newFake()}}); err == nil || !strings.Contains(err.Error(), "two check instances") {
		t.Errorf("two instances describing the same scanners: %v", err)
	}
}

// Hosts run at most Concurrency at once, and that many do run together.
func TestConcurrencyBound(t *testing.T) {
	f := newFake()
	f.delay = 30 * time.Millisecond
	r := newRunner(t, Options{Checks: []sdk.ScanCheck{f}, Family: "Slow", Concurrency: 3})
	var targets []Target
	for i := range 12 {
		targets = append(targets, Target{Host: netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)}).String()})
	}
	got, err := collect(t, t.Context(), r, targets...)
	if err != nil || len(got) != 12 {
		t.Fatalf("%d results, %v", len(got), err)
	}
	if p := f.peak.Load(); p != 3 {
		t.Errorf("peak hosts at once = %d, want 3", p)
	}
}

// Rate spaces host starts: 5 hosts at 20/s take at least 4 intervals.
func TestRateLimit(t *testing.T) {
	f := newFake()
	r := newRunner(t, Options{Checks: []sdk.ScanCheck{f}, Family: "Slow", Rate: 20, Concurrency: 10})
	start := time.Now()
	got, err := collect(t, t.Context(), r, Target{Host: "127.0.0.1"}, Target{Host: "127.0.0.2"}, Target{Host: "127.0.0.3"}, Target{Host: "127.0.0.4"}, Target{Host: "127.0.0.5"})
	if err != nil || len(got) != 5 {
		t.Fatalf("%d results, %v", len(got), err)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("5 hosts at 20/s started within %v, want >= 200ms", el)
	}
	if f.peak.Load() != 1 {
		t.Errorf("instant checks overlapped (%d at once) although starts were 50ms apart", f.peak.Load())
	}
}

// The per-host deadline covers the whole host: a check that ignores its
// context is reported Bad at the deadline, without waiting for it.
func TestHostDeadline(t *testing.T) {
	for _, stubborn := range []bool{false, true} {
		f := newFake()
		f.delay, f.stubborn = 3*time.Second, stubborn
		up := tlsServer(t)
		r := newRunner(t, Options{Checks: []sdk.ScanCheck{f}, Timeout: 150 * time.Millisecond})
		start := time.Now()
		got, err := collect(t, t.Context(), r, Target{Host: up})
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("stubborn=%v: the host took %v, want about its 150ms deadline", stubborn, el)
		}
		h := got[up]
		if w := h.Results["Slow"]["Wait"]; w.Grade != GradeBad || !strings.Contains(w.Error, "timed out") {
			t.Errorf("stubborn=%v: Slow/Wait = %+v, want Bad timed out", stubborn, w)
		}
		if d := h.Results["Connectivity"]["TLSDial"]; d.Grade != GradeGood {
			t.Errorf("stubborn=%v: TLSDial = %+v, want Good: it finished in time", stubborn, d)
		}
		if h.Grade != GradeBad {
			t.Errorf("overall %s, want Bad", h.Grade)
		}
	}
}

func TestCancel(t *testing.T) {
	f := newFake()
	f.delay = time.Minute
	r := newRunner(t, Options{Checks: []sdk.ScanCheck{f}, Family: "Slow", Concurrency: 2})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	got, err := collect(t, ctx, r, Target{Host: "127.0.0.1"}, Target{Host: "127.0.0.2"}, Target{Host: "127.0.0.3"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Run returned %v after cancellation", el)
	}
	if len(got) != 0 {
		t.Errorf("delivered %d results after cancellation", len(got))
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("%d hosts started, want 2 (the third waits for a slot and never gets one)", n)
	}

	// An error from fn stops the run and is returned.
	stop := errors.New("stop")
	f2 := newFake()
	r2 := newRunner(t, Options{Checks: []sdk.ScanCheck{f2}, Family: "Slow", Concurrency: 1})
	calls := 0
	err = r2.Run(t.Context(), func(yield func(Target) bool) {
		for i := 1; i < 50; i++ {
			if !yield(Target{Host: netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}).String()}) {
				return
			}
		}
	}, func(*HostResult) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Run with a failing callback: %v after %d calls, want stop after 1", err, calls)
	}
	if n := len(f2.requests()); n > 2 {
		t.Errorf("%d hosts started after the callback failed", n)
	}
}

// fakeResolver answers from a map.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestPolicy(t *testing.T) {
	up := tlsServer(t) // 127.0.0.1:port
	_, port, _ := strings.Cut(up, ":")
	allow, err := egress.New([]string{"127.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	allow.Resolver = fakeResolver{
		"inside.test":  {netip.MustParseAddr("127.0.0.1")},
		"outside.test": {netip.MustParseAddr("10.1.2.3")},
		"mixed.test":   {netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("127.0.0.1")},
	}
	f := newFake()
	r := newRunner(t, Options{Checks: []sdk.ScanCheck{f}, Family: "Connectivity", Policy: allow, Timeout: 5 * time.Second})
	if !r.Restricted() {
		t.Error("a runner with an allowlist is not Restricted")
	}
	got, err := collect(t, t.Context(), r,
		Target{Host: "inside.test:" + port},
		Target{Host: "outside.test:" + port},
		Target{Host: "mixed.test:" + port},
		Target{Host: "10.0.0.1:" + port},
		Target{Host: "inside.test:8443", IP: "192.0.2.9"},
		Target{Host: "nowhere.test"},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"inside.test:" + port, "mixed.test:" + port} {
		if r := got[h]; r.Err != nil || r.IP != "127.0.0.1" || r.Results["Connectivity"]["TLSDial"].Grade != GradeGood {
			t.Errorf("%s: %+v, want pinned to its allowed address 127.0.0.1 and Good", h, r)
		}
	}
	for _, h := range []string{"outside.test:" + port, "10.0.0.1:" + port, "inside.test:8443"} {
		if r := got[h]; r == nil || !errors.Is(r.Err, ErrDenied) || r.Grade != GradeBad || len(r.Results) != 0 || !strings.Contains(r.Err.Error(), h) {
			t.Errorf("%s: %+v, want denied, naming the target", h, r)
		}
	}
	if r := got["nowhere.test:443"]; r == nil || r.Err == nil || errors.Is(r.Err, ErrDenied) {
		t.Errorf("nowhere.test: %+v, want a resolution error", r)
	}
	for _, req := range f.requests() {
		if req.IP != "127.0.0.1" {
			t.Errorf("a check ran for %+v, not pinned to the allowed address", req)
		}
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("checks ran %d times, want 2 (inside and mixed)", n)
	}
	if newRunner(t, Options{Checks: []sdk.ScanCheck{f}, Policy: egress.Unrestricted()}).Restricted() {
		t.Error("an unrestricted egress policy counts as a restriction")
	}
}

func TestOverall(t *testing.T) {
	type res = map[string]FamilyResult
	g := func(grades ...string) FamilyResult {
		fr := FamilyResult{}
		for i, gr := range grades {
			fr[string(rune('a'+i))] = ScannerResult{Grade: gr}
		}
		return fr
	}
	for _, tc := range []struct {
		name string
		res  res
		want string
	}{
		{"nothing", res{}, GradeSkipped},
		{"all skipped", res{"F": g(GradeSkipped)}, GradeSkipped},
		{"no Mozilla: worst", res{"F": g(GradeSkipped, GradeGood), "G": g(GradeWarning)}, GradeWarning},
		{"no Mozilla: bad wins", res{"F": g(GradeWarning, GradeBad, GradeGood)}, GradeBad},
		{"intermediate met", res{MozillaFamily: g(GradeBad, GradeGood), "Connectivity": g(GradeBad)}, GradeGood},
		{"only warnings", res{MozillaFamily: g(GradeBad, GradeWarning)}, GradeWarning},
		{"no profile met", res{MozillaFamily: g(GradeBad, GradeBad), PKIFamily: g(GradeGood)}, GradeBad},
		{"PKI lowers", res{MozillaFamily: g(GradeGood, GradeGood), PKIFamily: g(GradeGood, GradeWarning, GradeSkipped)}, GradeWarning},
		{"PKI bad", res{MozillaFamily: g(GradeGood), PKIFamily: g(GradeBad)}, GradeBad},
		{"Mozilla skipped", res{MozillaFamily: g(GradeSkipped), "F": g(GradeWarning)}, GradeWarning},
	} {
		if got := Overall(tc.res); got != tc.want {
			t.Errorf("%s: Overall = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// A check's findings fold into one CFSSL result: the worst non-Skipped
// grade, the reasons joined, several outputs as a list.
func TestFold(t *testing.T) {
	c := &multiCheck{findings: []sdk.Finding{
		{Family: "F", Check: "C", Grade: sdk.GradeGood, Output: []byte(`1`)},
		{Family: "F", Check: "C", Grade: sdk.GradeSkipped, Reason: "no IPv6"},
		{Family: "F", Check: "C", Grade: sdk.GradeWarning, Reason: "SHA-1", Output: []byte(`{"a":2}`)},
	}}
	r := newRunner(t, Options{Checks: []sdk.ScanCheck{c}})
	h := r.ScanHost(t.Context(), Target{Host: "127.0.0.1"})
	got := h.Results["F"]["C"]
	if got.Grade != GradeWarning || got.Error != "no IPv6; SHA-1" || string(got.Output) != `[1,{"a":2}]` {
		t.Errorf("folded %+v", got)
	}
	c.findings = []sdk.Finding{{Family: "Other", Check: "C", Grade: sdk.GradeGood}}
	if got := r.ScanHost(t.Context(), Target{Host: "127.0.0.1"}).Results["F"]["C"]; got.Grade != GradeBad || !strings.Contains(got.Error, "made a finding for Other/C") {
		t.Errorf("a finding for another check: %+v, want Bad", got)
	}
	c.findings = nil
	if got := r.ScanHost(t.Context(), Target{Host: "127.0.0.1"}).Results["F"]["C"]; got.Grade != GradeBad || got.Error != "the check made no finding" {
		t.Errorf("no finding: %+v, want Bad", got)
	}
}

type multiCheck struct{ findings []sdk.Finding }

func (m *multiCheck) Close() error { return nil }
func (m *multiCheck) Families(context.Context) ([]sdk.ScanFamily, error) {
	return []sdk.ScanFamily{{Name: "F", Checks: []sdk.ScanCheckInfo{{Name: "C"}}}}, nil
}
func (m *multiCheck) Run(_ context.Context, _ sdk.ScanRequest, fn func(*sdk.Finding) error) error {
	for i := range m.findings {
		if err := fn(&m.findings[i]); err != nil {
			return err
		}
	}
	return nil
}

func TestWith(t *testing.T) {
	f := newFake()
	f.delay = time.Minute
	r := newRunner(t, Options{Checks: []sdk.ScanCheck{f}, Timeout: time.Hour})
	w, err := r.With(FilterRequest{Family: "Slow", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h := w.ScanHost(t.Context(), Target{Host: "127.0.0.1:1"})
	if len(h.Results) != 1 || !strings.Contains(h.Results["Slow"]["Wait"].Error, "50ms deadline") {
		t.Errorf("With(Slow, 50ms) ran %+v", h.Results)
	}
	if len(r.plans) != 2 || len(w.Families()) != 2 {
		t.Error("With changed the original runner or hid families from the listing")
	}
	for _, req := range []FilterRequest{{Family: "("}, {Scanner: "("}, {Family: "Nope"}} {
		if _, err := r.With(req); err == nil {
			t.Errorf("With(%+v) succeeded", req)
		}
	}
}
