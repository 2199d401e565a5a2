// Package scan runs TLS scanner checks (sdk.ScanCheck instances, builtin or
// plugins) against many targets: ranges and CSV lists expanded to hosts,
// family and scanner filters, bounded concurrency, one deadline per host,
// a start rate limit, an address policy, and results in CFSSL's scan JSON
// shape or as a table (docs/scanner-runner.md).
package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pkid/pkid/sdk"
)

// Defaults.
const (
	// DefaultConcurrency is how many hosts are scanned at once (CFSSL's
	// -num-workers default).
	DefaultConcurrency = 10
	// DefaultTimeout is the per-host deadline (CFSSL's CLI default).
	DefaultTimeout = 5 * time.Minute
	// checksPerHost bounds the checks of one host running at once.
	checksPerHost = 8
)

// Grades in CFSSL's spelling, worst first.
const (
	GradeBad     = "Bad"
	GradeWarning = "Warning"
	GradeGood    = "Good"
	GradeSkipped = "Skipped"
)

// gradeRank orders grades worst first; Skipped ranks after Good.
var gradeRank = map[string]int{GradeBad: 0, GradeWarning: 1, GradeGood: 2, GradeSkipped: 3}

// cfsslGrade maps an sdk grade to CFSSL's spelling; unknown grades are Bad.
func cfsslGrade(g sdk.Grade) string {
	switch g {
	case sdk.GradeGood:
		return GradeGood
	case sdk.GradeWarning:
		return GradeWarning
	case sdk.GradeSkipped:
		return GradeSkipped
	}
	return GradeBad
}

// ScannerResult is one scanner's result, CFSSL's shape.
type ScannerResult struct {
	Grade  string          `json:"grade"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// FamilyResult maps scanner names to their results.
type FamilyResult map[string]ScannerResult

// HostResult is everything found about one target.
type HostResult struct {
	Host string `json:"host"`
	// IP is the address the checks were pinned to under a Policy.
	IP string `json:"ip,omitempty"`
	// Grade is the overall grade: the worst non-Skipped scanner grade
	// (Skipped when every scanner skipped or none ran; Bad on Err).
	Grade   string                  `json:"grade"`
	Results map[string]FamilyResult `json:"results"`
	// Err is why the host was not scanned (denied, unresolvable); the
	// Results are then empty.
	Err error `json:"-"`
	// Elapsed is the time the host took.
	Elapsed time.Duration `json:"-"`
}

// Options configures a Runner.
type Options struct {
	// Checks are the check instances; their families are merged (a
	// family/scanner pair described by two instances is an error).
	Checks []sdk.ScanCheck
	// Family and Scanner select checks by regular expression (unanchored,
	// as CFSSL's); empty selects all.
	Family, Scanner string
	// Timeout is the deadline of each host; 0: DefaultTimeout.
	Timeout time.Duration
	// Concurrency bounds the hosts scanned at once; 0: DefaultConcurrency.
	Concurrency int
	// Rate bounds how many hosts start per second; 0: unbounded.
	Rate float64
	// Policy, when set, restricts the addresses checks dial (see Policy);
	// nil dials whatever the targets name.
	Policy Policy
	// Progress, when set, gets a progress bar (progress.go).
	Progress *Progress
}

// plan is one selected check.
type plan struct {
	check        sdk.ScanCheck
	family, name string
	familyDesc   string
	checkDesc    string
}

// Runner scans targets. It is safe for concurrent use.
type Runner struct {
	opts  Options
	plans []plan
	fams  []sdk.ScanFamily // every family described, filters not applied
}

// New describes the checks and applies the filters. Errors: a bad
// regular expression, a Families error, a family/scanner pair described
// twice, or filters selecting nothing.
func New(ctx context.Context, opts Options) (*Runner, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	famRE, err := regexp.Compile(opts.Family)
	if err != nil {
		return nil, fmt.Errorf("scan: family filter: %w", err)
	}
	scanRE, err := regexp.Compile(opts.Scanner)
	if err != nil {
		return nil, fmt.Errorf("scan: scanner filter: %w", err)
	}
	r := &Runner{opts: opts}
	seen := map[string]bool{}
	byName := map[string]int{}
	for _, c := range opts.Checks {
		fams, err := c.Families(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan: describing checks: %w", err)
		}
		for _, f := range fams {
			i, ok := byName[f.Name]
			if !ok {
				i = len(r.fams)
				byName[f.Name] = i
				r.fams = append(r.fams, sdk.ScanFamily{Name: f.Name, Description: f.Description})
			}
			for _, ck := range f.Checks {
				key := f.Name + "/" + ck.Name
				if seen[key] {
					return nil, fmt.Errorf("scan: scanner %s is described by two check instances", key)
				}
				seen[key] = true
				r.fams[i].Checks = append(r.fams[i].Checks, ck)
				if famRE.MatchString(f.Name) && scanRE.MatchString(ck.Name) {
					r.plans = append(r.plans, plan{check: c, family: f.Name, name: ck.Name, familyDesc: f.Description, checkDesc: ck.Description})
				}
			}
		}
	}
	if len(r.plans) == 0 {
		return nil, fmt.Errorf("scan: no scanner matches family %q and scanner %q", opts.Family, opts.Scanner)
	}
	return r, nil
}

// FilterRequest narrows a Runner for one run (With).
type FilterRequest struct {
	// Family and Scanner are regular expressions as in Options.
	Family, Scanner string
	// Timeout replaces Options.Timeout when positive.
	Timeout time.Duration
}

// With returns a runner of the scanners r runs that also match req, with
// req's timeout, sharing r's checks, policy and progress; the checks are
// not described again. Errors: a bad regular expression, or nothing
// matching.
func (r *Runner) With(req FilterRequest) (*Runner, error) {
	famRE, err := regexp.Compile(req.Family)
	if err != nil {
		return nil, fmt.Errorf("scan: family filter: %w", err)
	}
	scanRE, err := regexp.Compile(req.Scanner)
	if err != nil {
		return nil, fmt.Errorf("scan: scanner filter: %w", err)
	}
	out := &Runner{opts: r.opts, fams: r.fams}
	if req.Timeout > 0 {
		out.opts.Timeout = req.Timeout
	}
	for _, p := range r.plans {
		if famRE.MatchString(p.family) && scanRE.MatchString(p.name) {
			out.plans = append(out.plans, p)
		}
	}
	if len(out.plans) == 0 {
		return nil, fmt.Errorf("scan: no scanner matches family %q and scanner %q", req.Family, req.Scanner)
	}
	return out, nil
}

// Restricted reports whether a Policy restricts the runner's targets (an
// *egress.Policy allowing everything does not).
func (r *Runner) Restricted() bool {
	if u, ok := r.opts.Policy.(interface{ Unrestricted() bool }); ok && u.Unrestricted() {
		return false
	}
	return r.opts.Policy != nil
}

// Families describes every family and scanner of the checks, sorted by
// name (filters not applied).
func (r *Runner) Families() []sdk.ScanFamily {
	out := slices.Clone(r.fams)
	slices.SortFunc(out, func(a, b sdk.ScanFamily) int { return strings.Compare(a.Name, b.Name) })
	for i := range out {
		out[i].Checks = slices.Clone(out[i].Checks)
		slices.SortFunc(out[i].Checks, func(a, b sdk.ScanCheckInfo) int { return strings.Compare(a.Name, b.Name) })
	}
	return out
}

// Info is the families in scaninfo's shape (CFSSL's `scan -list`).
func (r *Runner) Info() map[string]FamilyInfo {
	out := map[string]FamilyInfo{}
	for _, f := range r.fams {
		fi := FamilyInfo{Description: f.Description, Scanners: map[string]ScannerInfo{}}
		for _, c := range f.Checks {
			fi.Scanners[c.Name] = ScannerInfo{Description: c.Description}
		}
		out[f.Name] = fi
	}
	return out
}

// FamilyInfo describes a family in scaninfo's shape.
type FamilyInfo struct {
	Description string                 `json:"description"`
	Scanners    map[string]ScannerInfo `json:"scanners"`
}

// ScannerInfo describes a scanner in scaninfo's shape.
type ScannerInfo struct {
	Description string `json:"description"`
}

// Run scans every target, at most Concurrency at once, starting at most
// Rate per second, and calls fn with each host's result as it completes
// (never concurrently). An error from fn, or ctx ending, stops the run:
// no new host starts, running ones are cancelled, and Run returns that
// error once they have stopped.
func (r *Runner) Run(ctx context.Context, targets iter.Seq[Target], fn func(*HostResult) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex // serialises fn
		sem     = make(chan struct{}, r.opts.Concurrency)
		limiter = newLimiter(r.opts.Rate)
	)
	deliver := func(res *HostResult) {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return // stopping: results after the stop are not delivered
		}
		r.opts.Progress.done(res)
		if err := fn(res); err != nil {
			cancel(err)
		}
	}
	for t := range targets {
		if err := limiter.wait(ctx); err != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			deliver(r.ScanHost(ctx, t))
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// ScanHost scans one target under the per-host deadline. Checks still
// running at the deadline are reported Bad with a timeout error; the
// result is returned without waiting for them to notice.
func (r *Runner) ScanHost(ctx context.Context, t Target) *HostResult {
	start := time.Now()
	res := &HostResult{Host: t.Host, Results: map[string]FamilyResult{}}
	host, err := NormalizeHost(t.Host)
	if err != nil {
		res.Err, res.Grade = err, GradeBad
		return res
	}
	res.Host = host
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	ip := t.IP
	if r.opts.Policy != nil {
		if ip, err = pin(ctx, r.opts.Policy, Target{Host: host, IP: t.IP}); err != nil {
			res.Err, res.Grade, res.Elapsed = err, GradeBad, time.Since(start)
			return res
		}
	}
	res.IP = ip
	type done struct {
		i   int
		res ScannerResult
	}
	var (
		ch       = make(chan done, len(r.plans))
		sem      = make(chan struct{}, checksPerHost)
		finished = make([]bool, len(r.plans))
		results  = make([]ScannerResult, len(r.plans))
	)
	for i, p := range r.plans {
		go func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				ch <- done{i, ScannerResult{Grade: GradeBad, Error: "not started: " + timeoutText(ctx, r.opts.Timeout)}}
				return
			}
			ch <- done{i, runCheck(ctx, p, sdk.ScanRequest{Family: p.family, Check: p.name, Host: host, IP: ip}, r.opts.Timeout)}
		}()
	}
	for n := 0; n < len(r.plans); n++ {
		select {
		case d := <-ch:
			finished[d.i], results[d.i] = true, d.res
			continue
		case <-ctx.Done():
		}
		break
	}
	for drained := false; !drained; {
		select {
		case d := <-ch:
			finished[d.i], results[d.i] = true, d.res
		default:
			drained = true
		}
	}
	for i, p := range r.plans {
		sr := results[i]
		if !finished[i] {
			sr = ScannerResult{Grade: GradeBad, Error: timeoutText(ctx, r.opts.Timeout)}
		}
		if res.Results[p.family] == nil {
			res.Results[p.family] = FamilyResult{}
		}
		res.Results[p.family][p.name] = sr
	}
	res.Grade = Overall(res.Results)
	res.Elapsed = time.Since(start)
	return res
}

func timeoutText(ctx context.Context, d time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("timed out: the host's %v deadline passed", d)
	}
	return "cancelled"
}

// runCheck runs one check and folds its findings into one result: the
// worst grade, the reasons of the non-Good findings joined as the error,
// and the output (one finding's, or a list of several findings' outputs).
func runCheck(ctx context.Context, p plan, req sdk.ScanRequest, timeout time.Duration) ScannerResult {
	var findings []sdk.Finding
	err := p.check.Run(ctx, req, func(f *sdk.Finding) error {
		if f.Family != p.family || f.Check != p.name {
			return fmt.Errorf("check %s/%s made a finding for %s/%s", p.family, p.name, f.Family, f.Check)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		findings = append(findings, *f)
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ScannerResult{Grade: GradeBad, Error: timeoutText(ctx, timeout)}
		}
		return ScannerResult{Grade: GradeBad, Error: err.Error()}
	}
	if len(findings) == 0 {
		return ScannerResult{Grade: GradeBad, Error: "the check made no finding"}
	}
	out := ScannerResult{Grade: GradeSkipped}
	var reasons []string
	var outputs []json.RawMessage
	for _, f := range findings {
		if g := cfsslGrade(f.Grade); g != GradeSkipped && (out.Grade == GradeSkipped || gradeRank[g] < gradeRank[out.Grade]) {
			out.Grade = g
		}
		if f.Grade != sdk.GradeGood && f.Reason != "" {
			reasons = append(reasons, f.Reason)
		}
		if len(f.Output) > 0 && json.Valid(f.Output) {
			outputs = append(outputs, f.Output)
		}
	}
	out.Error = strings.Join(reasons, "; ")
	switch len(outputs) {
	case 0:
	case 1:
		out.Output = outputs[0]
	default:
		b, _ := json.Marshal(outputs)
		out.Output = b
	}
	return out
}

// Families the overall grade reads (the builtin checks' names).
const (
	MozillaFamily = "Mozilla"
	PKIFamily     = "PKI"
)

// Overall is a host's grade. When the Mozilla family ran, it is the best
// grade among its profiles (a host meeting "modern" or "intermediate" is
// Good: intermediate is Mozilla's recommendation for general servers),
// lowered to the worst grade of the PKI family (an expired or mismatched
// certificate spoils any TLS configuration). Without Mozilla results it is
// the worst grade of every scanner. Skipped scanners never count; with
// nothing else the grade is Skipped.
func Overall(results map[string]FamilyResult) string {
	if best := bestGrade(results[MozillaFamily]); best != GradeSkipped {
		if pki := worstGrade(results[PKIFamily]); pki != GradeSkipped && gradeRank[pki] < gradeRank[best] {
			return pki
		}
		return best
	}
	g := GradeSkipped
	for _, fr := range results {
		if w := worstGrade(fr); w != GradeSkipped && (g == GradeSkipped || gradeRank[w] < gradeRank[g]) {
			g = w
		}
	}
	return g
}

// worstGrade is the worst non-Skipped grade of fr (Skipped if none).
func worstGrade(fr FamilyResult) string {
	g := GradeSkipped
	for _, sr := range fr {
		if sr.Grade != GradeSkipped && (g == GradeSkipped || gradeRank[sr.Grade] < gradeRank[g]) {
			g = sr.Grade
		}
	}
	return g
}

// bestGrade is the best non-Skipped grade of fr (Skipped if none).
func bestGrade(fr FamilyResult) string {
	g := GradeSkipped
	for _, sr := range fr {
		if sr.Grade != GradeSkipped && (g == GradeSkipped || gradeRank[sr.Grade] > gradeRank[g]) {
			g = sr.Grade
		}
	}
	return g
}

// limiter spaces starts 1/rate apart (a token bucket of one).
type limiter struct {
	every time.Duration
	next  time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return &limiter{}
	}
	return &limiter{every: time.Duration(float64(time.Second) / rate)}
}

func (l *limiter) wait(ctx context.Context) error {
	if l.every == 0 {
		return ctx.Err()
	}
	now := time.Now()
	if l.next.After(now) {
		t := time.NewTimer(l.next.Sub(now))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		now = l.next
	}
	l.next = now.Add(l.every)
	return nil
}
