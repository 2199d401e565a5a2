// Package revocation runs a daemon's revocation publishing: per-CA full and
// delta CRLs written to a directory and served over HTTP, OCSP responses
// re-signed after each revocation and pre-signed in bulk on a schedule, and
// the CA certificates the issued certificates' AIA points at.
//
// Scheduled work (full CRLs, deltas, OCSP refresh) is returned as jobs for
// the multi-node job runner, so one node at a time does it. A node that is
// asked for a CRL it does not have, or whose CRL has passed its nextUpdate,
// generates it on demand, so followers never serve stale CRLs even when
// their CRL directory is not shared with the leader.
package revocation

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/jobs"
	"github.com/pkid/pkid/sdk"
)

// deltaMargin widens a delta CRL's window back from its base CRL's
// thisUpdate, so a revocation committed while the base was being listed is
// in the delta at least.
const deltaMargin = 5 * time.Minute

// DefaultCoalesce is how long the on-revoke regenerator waits after a
// revocation for more to arrive, so a burst of revocations makes a few CRLs,
// not one per revocation.
const DefaultCoalesce = time.Second

// maxPendingWait bounds how long a CRL request waits for the regeneration
// that covers a revocation already made; then it gets the current CRL.
const maxPendingWait = 10 * time.Second

// Options configures a Service.
type Options struct {
	CAs *authority.Set
	// Dir receives the CRL files (LABEL.crl, LABEL-delta.crl and their
	// .json metadata); created if missing.
	Dir string
	Log hclog.Logger
	// Forget, when set, drops an OCSP responder's cached responses for a
	// serial after it is revoked.
	Forget func(serial *big.Int)
	// Now is for tests (default time.Now).
	Now func() time.Time
	// Coalesce is the on-revoke window (0: DefaultCoalesce; negative:
	// none). The regenerator also waits at least as long as its last
	// regeneration took, so a long bulk revocation spends at most about
	// half its time on CRLs.
	Coalesce time.Duration
	// Published, when set, is called after each CRL is published (for
	// tests and metrics); it runs with the CA's generation lock held.
	Published func(label string, delta bool, m *Meta)
	// Offline serves a command, not a daemon (pkid revoke): New does not
	// create Dir, and CRLs are regenerated only by RegeneratePublished.
	Offline bool
}

// Service publishes the revocation state of a set of CAs.
type Service struct {
	opts Options
	log  hclog.Logger
	cas  map[string]*caState

	stop context.CancelFunc
	wg   sync.WaitGroup
}

type caState struct {
	label     string
	iss       *ca.Issuer
	block     *config.CA
	crlURL    string
	deltaURL  string
	gen       sync.Mutex    // one CRL generation at a time per CA
	stale     sync.Mutex    // one on-demand regeneration at a time per CA
	triggered chan struct{} // on-revoke regeneration, capacity 1

	// Revocations noted by Revoked and those the last finished on-revoke
	// regeneration covered: a CRL request waits until they meet, so a
	// relying party fetching the CRL after a revoke reply sees it.
	mu      sync.Mutex
	running bool // the on-revoke regenerator runs
	revoked uint64
	covered uint64
	changed chan struct{} // closed when covered advances
}

// idp is the issuing distribution point of the CA's CRLs: its CRL URL,
// except for a self-signed CA. Relying parties (OpenSSL with
// -crl_check_all) also check a root against its own CRL, and a CRL with a
// distribution point does not cover a certificate without one, such as
// the root itself.
func (st *caState) idp() string {
	c := st.iss.Certificate()
	if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
		return ""
	}
	return st.crlURL
}

// Meta describes a published CRL (the .json file beside it).
type Meta struct {
	Number     string    `json:"number"` // decimal
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	Entries    int64     `json:"entries"`
	Bytes      int64     `json:"bytes"`
	// DeltaBase is the base CRL number of a delta CRL.
	DeltaBase string `json:"delta_base,omitempty"`
}

// New prepares a Service for the CAs of opts.CAs that have a certstore.
func New(opts Options) (*Service, error) {
	if opts.Dir == "" {
		return nil, errors.New("revocation: no CRL directory")
	}
	if !opts.Offline {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("revocation: %w", err)
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{opts: opts, log: opts.Log, cas: map[string]*caState{}}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if s.opts.Coalesce == 0 {
		s.opts.Coalesce = DefaultCoalesce
	}
	for label, iss := range opts.CAs.CAs {
		if iss.Store() == nil {
			continue
		}
		st := &caState{label: label, iss: iss, block: opts.CAs.Blocks[label], triggered: make(chan struct{}, 1), changed: make(chan struct{})}
		if st.block == nil {
			st.block = &config.CA{Name: label}
		}
		if st.block.CRL == nil {
			st.block.CRL = &config.CRLSettings{Validity: 168 * time.Hour, Interval: time.Hour, DeltaInterval: 15 * time.Minute, OnRevoke: true}
		}
		if st.block.OCSP == nil {
			st.block.OCSP = &config.OCSPSettings{Validity: ca.DefaultOCSPValidity, RefreshInterval: time.Hour}
		}
		st.crlURL, st.deltaURL, _, _ = authority.URLs(config.PkidBlock{}, opts.CAs.PublicURL, st.block)
		s.cas[label] = st
	}
	return s, nil
}

// Start runs the on-revoke regenerators until Stop.
func (s *Service) Start(ctx context.Context) {
	ctx, s.stop = context.WithCancel(ctx)
	for _, st := range s.cas {
		if !st.block.CRL.OnRevoke {
			continue
		}
		st.mu.Lock()
		st.running = true
		st.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.regenerateOnRevoke(ctx, st)
		}()
	}
}

// Stop ends Start's goroutines and waits for them.
func (s *Service) Stop() {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
}

// regenerateOnRevoke is the only on-revoke generator of a CA's CRLs. It
// regenerates the full CRL (most relying parties read nothing else) and
// then the delta against it, coalescing revocations: one regeneration
// covers every revocation that arrived before it started.
func (s *Service) regenerateOnRevoke(ctx context.Context, st *caState) {
	defer func() {
		st.mu.Lock()
		st.running = false
		close(st.changed) // release waiters: nobody will cover them now
		st.changed = make(chan struct{})
		st.mu.Unlock()
	}()
	var took time.Duration // the last regeneration's
	var ended time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.triggered:
		}
		// Back to back, regenerations are as far apart as the last one
		// took: during a long burst CRLs get at most about half the time.
		if wait := max(s.opts.Coalesce, min(took, time.Minute)-time.Since(ended)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		// Revocations noted from here on trigger the next round; the
		// pending trigger of those before is covered by this one.
		select {
		case <-st.triggered:
		default:
		}
		st.mu.Lock()
		target := st.revoked
		st.mu.Unlock()
		start := time.Now()
		_, err := s.GenerateFull(ctx, st.label)
		if err == nil && st.block.CRL.DeltaInterval > 0 {
			_, err = s.GenerateDelta(ctx, st.label)
		}
		ended = time.Now()
		took = ended.Sub(start)
		if err != nil && ctx.Err() == nil {
			s.log.Error("regenerating the CRL after a revocation", "ca", st.label, "error", err)
		}
		st.mu.Lock()
		st.covered = max(st.covered, target)
		close(st.changed)
		st.changed = make(chan struct{})
		st.mu.Unlock()
	}
}

// waitRevocations waits (at most maxPendingWait, or until ctx ends) for
// the on-revoke regeneration covering the revocations noted so far.
func (s *Service) waitRevocations(ctx context.Context, st *caState) {
	t := time.NewTimer(maxPendingWait)
	defer t.Stop()
	st.mu.Lock()
	target := st.revoked
	for st.running && st.covered < target {
		ch := st.changed
		st.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-t.C:
			return
		}
		st.mu.Lock()
	}
	st.mu.Unlock()
}

// Jobs returns the periodic work: per CA a full CRL, a delta CRL (when
// deltas are on) and an OCSP pre-signing run.
func (s *Service) Jobs() []jobs.Job {
	var out []jobs.Job
	for _, label := range s.labels() {
		st := s.cas[label]
		out = append(out, jobs.Job{Name: "crl:" + label, Interval: st.block.CRL.Interval, Run: func(ctx context.Context) error {
			_, err := s.GenerateFull(ctx, label)
			return err
		}})
		if d := st.block.CRL.DeltaInterval; d > 0 {
			out = append(out, jobs.Job{Name: "crl-delta:" + label, Interval: d, Run: func(ctx context.Context) error {
				_, err := s.GenerateDelta(ctx, label)
				return err
			}})
		}
		out = append(out, jobs.Job{Name: "ocsp-refresh:" + label, Interval: st.block.OCSP.RefreshInterval, Run: func(ctx context.Context) error {
			res, err := st.iss.RefreshOCSP(ctx, ca.RefreshRequest{Within: st.block.OCSP.RefreshWithin, Validity: st.block.OCSP.Validity})
			if res.Signed > 0 {
				s.log.Info("OCSP responses pre-signed", "ca", label, "checked", res.Checked, "signed", res.Signed, "fresh", res.Fresh)
			}
			return err
		}})
	}
	return out
}

func (s *Service) labels() []string {
	var out []string
	for _, l := range s.opts.CAs.Labels() {
		if s.cas[l] != nil {
			out = append(out, l)
		}
	}
	return out
}

// The Service finishes authority.Set.Revoke's revocations.
var _ authority.Publisher = (*Service)(nil)

// Revoked finishes a revocation already recorded in the store: it re-signs
// the certificate's OCSP response (stored, so every responder serves it),
// drops cached responses and schedules the CA's CRL. Errors: the CA is not
// one of ours, the record is missing, signing or storing failed.
func (s *Service) Revoked(ctx context.Context, rr sdk.RevokeRequest) error {
	st := s.byAKI(rr.AKI)
	if st == nil {
		return fmt.Errorf("revocation: no configured CA with a certstore has authority key id %s: its OCSP response was not re-signed", sdk.NormalizeAKI(rr.AKI))
	}
	serial, ok := new(big.Int).SetString(rr.Serial, 10)
	if !ok {
		return fmt.Errorf("revocation: serial %q is not decimal", rr.Serial)
	}
	// The CRL first: it does not depend on the OCSP steps succeeding.
	if st.block.CRL.OnRevoke {
		st.mu.Lock()
		st.revoked++
		st.mu.Unlock()
		select {
		case st.triggered <- struct{}{}:
		default: // a regeneration is already pending
		}
	}
	if err := ResignOCSP(ctx, st.iss, rr.Serial); err != nil {
		return err
	}
	if s.opts.Forget != nil {
		s.opts.Forget(serial)
	}
	return nil
}

// RegeneratePublished regenerates, after revocations made without a
// daemon, the full CRL (and its delta) of each CA that Revoked was told
// about and that a daemon publishes from Dir: the daemon serves those
// files until their nextUpdate, so without this an offline revocation
// would reach relying parties only at its next scheduled CRL. CAs with
// on_revoke = false, and CRLs never published (a daemon generates them
// when first asked), are left alone. A daemon regenerating at the same
// time is harmless: files are renamed into place whole.
func (s *Service) RegeneratePublished(ctx context.Context) error {
	var errs []error
	for _, label := range s.labels() {
		st := s.cas[label]
		st.mu.Lock()
		pending := st.revoked > st.covered
		target := st.revoked
		st.mu.Unlock()
		if !pending {
			continue
		}
		if _, err := os.Stat(s.path(label, false) + ".json"); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if _, err := s.GenerateFull(ctx, label); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := os.Stat(s.path(label, true) + ".json"); err == nil {
			if _, err := s.GenerateDelta(ctx, label); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		st.mu.Lock()
		st.covered = max(st.covered, target)
		st.mu.Unlock()
	}
	return errors.Join(errs...)
}

// ResignOCSP signs and stores the SHA-1 OCSP response of the certificate
// with serial (decimal) issued by iss, from its current record: after a
// revocation, every store-backed responder serves the new status.
func ResignOCSP(ctx context.Context, iss *ca.Issuer, serial string) error {
	store := iss.Store()
	if store == nil {
		return fmt.Errorf("revocation: CA %q has no certstore", iss.Label())
	}
	rec, err := store.Get(ctx, serial, iss.AKI())
	if err != nil {
		return fmt.Errorf("revocation: %w", err)
	}
	resp, err := iss.OCSPForRecord(ctx, rec, crypto.SHA1, nil)
	if err != nil {
		return fmt.Errorf("revocation: signing the OCSP response: %w", err)
	}
	if err := store.PutOCSP(ctx, &sdk.OCSPRecord{Serial: rec.Serial, AKI: rec.AKI, Response: resp.DER, NextUpdate: resp.NextUpdate}); err != nil {
		return fmt.Errorf("revocation: storing the OCSP response: %w", err)
	}
	return nil
}

func (s *Service) byAKI(aki string) *caState {
	if iss := s.opts.CAs.ByAKI(aki); iss != nil {
		return s.cas[iss.Label()]
	}
	return nil
}

func (s *Service) path(label string, delta bool) string {
	if delta {
		return filepath.Join(s.opts.Dir, label+"-delta.crl")
	}
	return filepath.Join(s.opts.Dir, label+".crl")
}

// GenerateFull writes a new full CRL of the CA with label.
func (s *Service) GenerateFull(ctx context.Context, label string) (*Meta, error) {
	st := s.cas[label]
	if st == nil {
		return nil, fmt.Errorf("revocation: no CA %q with a certstore", label)
	}
	st.gen.Lock()
	defer st.gen.Unlock()
	return s.generateFull(ctx, st)
}

// generateFull writes a new full CRL of st; the caller holds st.gen.
func (s *Service) generateFull(ctx context.Context, st *caState) (*Meta, error) {
	now := s.opts.Now()
	req := ca.CRLRequest{Validity: st.block.CRL.Validity, Now: now, Number: s.nextNumber(st.label, now), DistributionPoint: st.idp(), TempDir: s.opts.Dir}
	if st.block.CRL.DeltaInterval > 0 {
		req.FreshestCRL = st.deltaURL
	}
	return s.write(ctx, st, false, req)
}

// GenerateDelta writes a new delta CRL of the CA with label against its
// current full CRL (generating that first when there is none).
func (s *Service) GenerateDelta(ctx context.Context, label string) (*Meta, error) {
	st := s.cas[label]
	if st == nil {
		return nil, fmt.Errorf("revocation: no CA %q with a certstore", label)
	}
	// The base is checked and, when missing or expired, generated under
	// the same lock as the full CRL job: at startup both run at once, and
	// a check outside it made both write a full CRL.
	st.gen.Lock()
	defer st.gen.Unlock()
	base, err := s.meta(label, false)
	if err != nil || !base.NextUpdate.After(s.opts.Now()) {
		if base, err = s.generateFull(ctx, st); err != nil {
			return nil, err
		}
	}
	number, ok := new(big.Int).SetString(base.Number, 10)
	if !ok {
		return nil, fmt.Errorf("revocation: %s: bad CRL number %q", s.path(label, false)+".json", base.Number)
	}
	validity := 2 * st.block.CRL.DeltaInterval
	if validity <= 0 || validity > st.block.CRL.Validity {
		validity = st.block.CRL.Validity
	}
	now := s.opts.Now()
	// Above its base's, as RFC 5280, section 5.2.4 requires.
	deltaNumber := s.nextNumber(label, now)
	req := ca.CRLRequest{Validity: validity, Now: now, Number: deltaNumber, DeltaBase: number, DeltaSince: base.ThisUpdate.Add(-deltaMargin),
		DistributionPoint: st.idp(), TempDir: s.opts.Dir}
	return s.write(ctx, st, true, req)
}

// nextNumber is the number of the CA's next CRL, full or delta (they share
// one sequence, RFC 5280, section 5.2.3): the time in nanoseconds, or one more
// than the last published number when the clock is not ahead of it, so
// numbers strictly increase even when regenerations follow each other
// within a clock tick or the clock steps back. Call with st.gen held.
func (s *Service) nextNumber(label string, now time.Time) *big.Int {
	n := big.NewInt(now.UnixNano())
	for _, delta := range []bool{false, true} {
		m, err := s.meta(label, delta)
		if err != nil {
			continue
		}
		if last, ok := new(big.Int).SetString(m.Number, 10); ok && n.Cmp(last) <= 0 {
			n.Add(last, big.NewInt(1))
		}
	}
	return n
}

// write generates a CRL into a temporary file and renames it into place
// with its metadata, so readers see the old or the new CRL, never half.
func (s *Service) write(ctx context.Context, st *caState, delta bool, req ca.CRLRequest) (*Meta, error) {
	start := time.Now()
	dst := s.path(st.label, delta)
	f, err := os.CreateTemp(s.opts.Dir, ".crl-*")
	if err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	defer os.Remove(f.Name())
	// CreateTemp makes the file 0600; a CRL is public (the directory may be
	// served by another web server).
	err = f.Chmod(0o644)
	var info ca.CRLInfo
	if err == nil {
		info, err = st.iss.WriteCRL(ctx, f, req)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("revocation: CA %q: %w", st.label, err)
	}
	m := &Meta{Number: info.Number.String(), ThisUpdate: info.ThisUpdate, NextUpdate: info.NextUpdate, Entries: info.Entries, Bytes: info.Bytes}
	if req.DeltaBase != nil {
		m.DeltaBase = req.DeltaBase.String()
	}
	mj, _ := json.Marshal(m)
	// Unique temporary names: nodes sharing the directory may write at once.
	jf, err := os.CreateTemp(s.opts.Dir, ".meta-*")
	if err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	defer os.Remove(jf.Name())
	_, err = jf.Write(mj)
	if err == nil {
		err = jf.Chmod(0o644)
	}
	if cerr := jf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	if err := os.Rename(jf.Name(), dst+".json"); err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	kind := "full"
	if delta {
		kind = "delta"
	}
	s.log.Info("CRL published", "ca", st.label, "kind", kind, "number", m.Number, "entries", m.Entries, "bytes", m.Bytes, "took", time.Since(start).Round(time.Millisecond))
	if s.opts.Published != nil {
		s.opts.Published(st.label, delta, m)
	}
	return m, nil
}

// meta reads a published CRL's metadata.
func (s *Service) meta(label string, delta bool) (*Meta, error) {
	b, err := os.ReadFile(s.path(label, delta) + ".json")
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("revocation: %s.json: %w", s.path(label, delta), err)
	}
	return &m, nil
}

// CRLHandler serves LABEL.crl and LABEL-delta.crl (mount it with
// http.StripPrefix at the CRL path). A missing or expired CRL is generated
// before it is served.
func (s *Service) CRLHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if !strings.HasSuffix(name, ".crl") || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		label, delta := strings.TrimSuffix(name, ".crl"), false
		if s.cas[label] == nil {
			if l, ok := strings.CutSuffix(label, "-delta"); ok && s.cas[l] != nil {
				label, delta = l, true
			}
		}
		st := s.cas[label]
		if st == nil || (delta && st.block.CRL.DeltaInterval <= 0) {
			http.NotFound(w, r)
			return
		}
		s.waitRevocations(r.Context(), st)
		m, err := s.meta(label, delta)
		if err != nil || !m.NextUpdate.After(s.opts.Now()) {
			m, err = s.regenerateStale(r.Context(), st, delta)
			if err != nil {
				s.log.Error("generating a CRL on demand", "ca", label, "error", err)
				http.Error(w, "the CRL is unavailable", http.StatusServiceUnavailable)
				return
			}
		}
		f, err := os.Open(s.path(label, delta))
		if err != nil {
			http.Error(w, "the CRL is unavailable", http.StatusServiceUnavailable)
			return
		}
		defer f.Close()
		iv := st.block.CRL.Interval
		if delta {
			iv = st.block.CRL.DeltaInterval
		}
		maxAge := max(min(m.NextUpdate.Sub(s.opts.Now()), iv), 0)
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(maxAge.Seconds())))
		w.Header().Set("Expires", m.NextUpdate.UTC().Format(http.TimeFormat))
		w.Header().Set("ETag", `"`+m.Number+`"`)
		http.ServeContent(w, r, "", m.ThisUpdate, f)
	})
}

// regenerateStale generates a missing or expired CRL once: concurrent
// requests wait for the generation in progress and then find it fresh.
func (s *Service) regenerateStale(ctx context.Context, st *caState, delta bool) (*Meta, error) {
	st.stale.Lock()
	defer st.stale.Unlock()
	if m, err := s.meta(st.label, delta); err == nil && m.NextUpdate.After(s.opts.Now()) {
		return m, nil
	}
	if delta {
		return s.GenerateDelta(ctx, st.label)
	}
	return s.GenerateFull(ctx, st.label)
}

// CAHandler serves LABEL.crt: the CA certificate in DER (AIA caIssuers).
func CAHandler(set *authority.Set) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		label, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".crt")
		iss := set.CAs[label]
		if !ok || iss == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Write(iss.Certificate().Raw)
	})
}
