package ct

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/ctutil"
	ctx509 "github.com/google/certificate-transparency-go/x509"
)

var zeroTime time.Time

// MaxResponseBytes bounds a log's add-chain answer; an SCT is about 120
// bytes, and extensions are small.
const MaxResponseBytes = 16 << 10

// Defaults of Options.
const (
	DefaultBreakerThreshold = 3
	DefaultBreakerCooldown  = 30 * time.Second
	DefaultBackoff          = 200 * time.Millisecond
)

// Options configures a Submitter; zero fields take the defaults.
type Options struct {
	// Client sends the requests (default: a client without a global
	// timeout; per-attempt timeouts come from the policy).
	Client *http.Client
	// BreakerThreshold consecutive failed submissions open a log's
	// circuit for BreakerCooldown: it is skipped (and counts as failed)
	// until one trial submission succeeds.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// Backoff is the first retry's delay, doubled each retry, with
	// jitter.
	Backoff time.Duration
	// Now is for tests.
	Now func() time.Time
}

// Submitter submits chains to logs. It is safe for concurrent use and
// keeps each log's circuit breaker across submissions.
type Submitter struct {
	opts     Options
	mu       sync.Mutex
	breakers map[string]*breaker // by log URL
}

// NewSubmitter returns a Submitter.
func NewSubmitter(o Options) *Submitter {
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.BreakerThreshold <= 0 {
		o.BreakerThreshold = DefaultBreakerThreshold
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = DefaultBreakerCooldown
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Submitter{opts: o, breakers: map[string]*breaker{}}
}

// breaker is one log's circuit: open after threshold consecutive failures,
// half-open (one trial) once the cooldown has passed.
type breaker struct {
	failures  int
	openUntil time.Time
	trial     bool // a half-open trial is in flight
}

// allow reports whether l may be submitted to now.
func (s *Submitter) allow(url string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.breakers[url]
	if b == nil || b.failures < s.opts.BreakerThreshold {
		return true
	}
	if s.opts.Now().Before(b.openUntil) || b.trial {
		return false
	}
	b.trial = true
	return true
}

func (s *Submitter) record(url string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.breakers[url]
	if b == nil {
		b = &breaker{}
		s.breakers[url] = b
	}
	b.trial = false
	if ok {
		b.failures = 0
		return
	}
	b.failures++
	if b.failures >= s.opts.BreakerThreshold {
		b.openUntil = s.opts.Now().Add(s.opts.BreakerCooldown)
	}
}

// drain collects the n submissions still running once they see their
// context cancelled; their outcome says nothing about their logs, so a
// half-open trial among them is released without counting.
func (s *Submitter) drain(ch <-chan *Result, n int) {
	if n == 0 {
		return
	}
	go func() {
		for ; n > 0; n-- {
			s.release((<-ch).Log.URL)
		}
	}()
}

// release ends a half-open trial without counting it.
func (s *Submitter) release(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.breakers[url]; b != nil {
		b.trial = false
	}
}

// Result is one log's outcome.
type Result struct {
	Log *Log
	// SCT is set when the log answered with an SCT that verified.
	SCT *ct.SignedCertificateTimestamp
	// Raw is SCT TLS-encoded.
	Raw []byte
	Err error
	// Attempts made (0: skipped, see Err).
	Attempts int
}

// ErrPolicy is wrapped by Submit's error when the policy cannot be met.
var ErrPolicy = errors.New("CT policy not met")

// Request is one submission.
type Request struct {
	// Chain is the precertificate or certificate (DER) first, then its
	// issuer and the issuer's chain.
	Chain [][]byte
	// Precert: Chain[0] is a precertificate (add-pre-chain).
	Precert bool
}

// Submit sends the chain to every log of p whose shard covers the
// certificate's NotAfter, in parallel, and returns as soon as the SCTs
// that verified meet the policy (RequiredSCTs from RequiredOperators
// distinct operators); the remaining submissions are cancelled. The
// results list every log tried (verified SCTs first). Errors: a chain
// that does not parse; the policy cannot be met (wrapping ErrPolicy,
// naming each log that failed and why).
func (s *Submitter) Submit(ctx context.Context, p *Policy, req Request) ([]*Result, error) {
	if len(req.Chain) < 2 {
		return nil, errors.New("ct: the chain needs the certificate and its issuer")
	}
	chain := make([]*ctx509.Certificate, len(req.Chain))
	for i, der := range req.Chain {
		c, err := ctx509.ParseCertificate(der)
		if ctx509.IsFatal(err) {
			return nil, fmt.Errorf("ct: chain[%d]: %w", i, err)
		}
		chain[i] = c
	}
	if req.Precert != chain[0].IsPrecertificate() {
		return nil, fmt.Errorf("ct: chain[0] precertificate=%v, want %v", chain[0].IsPrecertificate(), req.Precert)
	}
	notAfter := chain[0].NotAfter
	var eligible []*Log
	var results []*Result
	for _, l := range p.Logs {
		if !l.Covers(notAfter) {
			results = append(results, &Result{Log: l, Err: fmt.Errorf("its shard [%s, %s) does not cover NotAfter %s", fmtTime(l.NotAfterStart), fmtTime(l.NotAfterLimit), notAfter.UTC().Format(time.RFC3339))})
			continue
		}
		eligible = append(eligible, l)
	}
	// The operators' SCTs are counted as they arrive.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan *Result, len(eligible))
	for _, l := range eligible {
		if !s.allow(l.URL) {
			results = append(results, &Result{Log: l, Err: errors.New("circuit open after repeated failures")})
			continue
		}
		go func() { ch <- s.submitOne(ctx, p, l, req, chain) }()
	}
	pending := len(eligible) - countSkipped(results, eligible)
	var good []*Result
	for pending > 0 {
		var r *Result
		select {
		case r = <-ch:
		case <-ctx.Done():
			s.drain(ch, pending)
			return nil, fmt.Errorf("ct: %w", ctx.Err())
		}
		pending--
		s.record(r.Log.URL, r.Err == nil)
		results = append(results, r)
		if r.Err == nil {
			good = append(good, r)
			if met(good, p) {
				break
			}
		} else if len(good)+pending < p.RequiredSCTs {
			// The logs still running cannot make up the numbers (an
			// N-of-N policy after one failure): fail now.
			break
		}
	}
	// The policy is met, or cannot be: the rest are cancelled.
	s.drain(ch, pending)
	sortResults(results)
	if met(good, p) {
		return results, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d SCTs from %d of %d operators", len(good), p.RequiredSCTs, operators(good), p.RequiredOperators)
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(&b, "; %s: %v", r.Log.URL, r.Err)
		}
	}
	if pending > 0 {
		fmt.Fprintf(&b, "; %d more not awaited", pending)
	}
	return results, fmt.Errorf("ct: %w: %s", ErrPolicy, b.String())
}

func countSkipped(results []*Result, eligible []*Log) int {
	n := 0
	for _, r := range results {
		if r.Attempts == 0 && slices.Contains(eligible, r.Log) {
			n++
		}
	}
	return n
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// met reports whether good SCTs satisfy p: enough SCTs, and enough
// distinct operators among them.
func met(good []*Result, p *Policy) bool {
	return len(good) >= p.RequiredSCTs && operators(good) >= p.RequiredOperators
}

func operators(rs []*Result) int {
	ops := map[string]bool{}
	for _, r := range rs {
		ops[r.Log.Operator] = true
	}
	return len(ops)
}

func sortResults(rs []*Result) {
	sort.SliceStable(rs, func(i, j int) bool {
		if (rs[i].Err == nil) != (rs[j].Err == nil) {
			return rs[i].Err == nil
		}
		return rs[i].Log.URL < rs[j].Log.URL
	})
}

// submitOne submits to one log with retries and backoff.
func (s *Submitter) submitOne(ctx context.Context, p *Policy, l *Log, req Request, chain []*ctx509.Certificate) *Result {
	r := &Result{Log: l}
	delay := s.opts.Backoff
	for attempt := 0; attempt <= p.Retries; attempt++ {
		if attempt > 0 {
			jitter := time.Duration(rand.Int64N(int64(delay)/2 + 1))
			select {
			case <-ctx.Done():
				r.Err = fmt.Errorf("%w (after: %v)", ctx.Err(), r.Err)
				return r
			case <-time.After(delay + jitter):
			}
			delay *= 2
		}
		r.Attempts++
		sct, raw, err := s.post(ctx, p.Timeout, l, req, chain)
		if err == nil {
			r.SCT, r.Raw, r.Err = sct, raw, nil
			return r
		}
		r.Err = err
		var perm permanent
		if errors.As(err, &perm) || ctx.Err() != nil {
			return r
		}
	}
	if p.Retries > 0 {
		r.Err = fmt.Errorf("%d attempts: %w", r.Attempts, r.Err)
	}
	return r
}

// permanent marks an answer that retrying would not change (a 4xx, an
// SCT that does not verify).
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// post makes one add-chain or add-pre-chain request and verifies the SCT.
func (s *Submitter) post(ctx context.Context, timeout time.Duration, l *Log, req Request, chain []*ctx509.Certificate) (*ct.SignedCertificateTimestamp, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body := struct {
		Chain [][]byte `json:"chain"`
	}{req.Chain}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, nil, err
	}
	path := ct.AddChainPath
	if req.Precert {
		path = ct.AddPreChainPath
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL+path, bytes.NewReader(b))
	if err != nil {
		return nil, nil, permanent{err}
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := s.opts.Client.Do(hreq)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, fmt.Errorf("no answer within %s", timeout)
		}
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, fmt.Errorf("no complete answer within %s", timeout)
		}
		return nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Errorf("HTTP %s: %s", resp.Status, snippet(data))
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return nil, nil, permanent{msg}
		}
		return nil, nil, msg
	}
	if len(data) > MaxResponseBytes {
		return nil, nil, permanent{fmt.Errorf("answer larger than %d bytes", MaxResponseBytes)}
	}
	var acr ct.AddChainResponse
	if err := json.Unmarshal(data, &acr); err != nil {
		return nil, nil, permanent{fmt.Errorf("malformed answer: %v", err)}
	}
	sct, err := acr.ToSignedCertificateTimestamp()
	if err != nil {
		return nil, nil, permanent{fmt.Errorf("malformed SCT: %v", err)}
	}
	if err := s.check(l, chain, sct, false); err != nil {
		return nil, nil, permanent{err}
	}
	raw, err := encodeSCT(sct)
	if err != nil {
		return nil, nil, permanent{err}
	}
	return sct, raw, nil
}

// check verifies sct against log l for chain: its version, log ID,
// timestamp (not in the future beyond a minute's skew) and signature.
func (s *Submitter) check(l *Log, chain []*ctx509.Certificate, sct *ct.SignedCertificateTimestamp, embedded bool) error {
	return checkSCT(l, chain, sct, embedded, s.opts.Now())
}

func checkSCT(l *Log, chain []*ctx509.Certificate, sct *ct.SignedCertificateTimestamp, embedded bool, now time.Time) error {
	if sct.SCTVersion != ct.V1 {
		return fmt.Errorf("SCT version %d, want v1", sct.SCTVersion)
	}
	ts := ct.TimestampToTime(sct.Timestamp)
	if ts.After(now.Add(time.Minute)) {
		return fmt.Errorf("SCT timestamp %s is in the future", ts.UTC().Format(time.RFC3339))
	}
	if l.Keyless() {
		return nil // CFSSL's ct_log_servers: no key to check against
	}
	if sct.LogID.KeyID != l.ID {
		return errors.New("SCT log ID is not this log's")
	}
	if !l.RetiredAt.IsZero() && !ts.Before(l.RetiredAt) {
		return fmt.Errorf("SCT timestamp %s is not before the log's retirement at %s", ts.UTC().Format(time.RFC3339), l.RetiredAt.UTC().Format(time.RFC3339))
	}
	if err := ctutil.VerifySCT(l.Key, chain, sct, embedded); err != nil {
		return fmt.Errorf("SCT signature does not verify: %v", err)
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
