package jobs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/sdk"
)

// maxReportedSerials caps the serials an expiry sweep logs.
const maxReportedSerials = 10

// SweepResult is what one expiry sweep found.
type SweepResult struct {
	// Since and Until bound the NotAfter times covered: [Since, Until).
	// Since is zero on a sweeper's first sweep (all expired certificates).
	Since, Until time.Time
	// Count is the number of good certificates that expired in the window.
	Count int
	// Serials holds the first (earliest expiring) of them, at most 10.
	Serials []string
}

// ExpirySweeper reports good certificates that expired since its previous
// sweep. It only reports: the store's statuses are good and revoked, and an
// expired certificate is not revoked, so no record changes. The window of a
// sweep starts where the previous one ended; it lives in memory, so the
// first sweep after a (re)start or a leader change covers every expired good
// certificate.
type ExpirySweeper struct {
	// Store is the certificate store to sweep.
	Store sdk.CertStore
	// Log receives one line per sweep that found expired certificates.
	Log hclog.Logger
	// OnSweep, if set, is called after each successful sweep.
	OnSweep func(SweepResult)
	// Now returns the current time (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	last time.Time // Until of the previous successful sweep
}

// ExpirySweep returns a job named "expiry-sweep" that runs a new
// ExpirySweeper on store every interval.
func ExpirySweep(store sdk.CertStore, log hclog.Logger, interval time.Duration) Job {
	return (&ExpirySweeper{Store: store, Log: log}).Job(interval)
}

// Job returns a job named "expiry-sweep" that calls Sweep every interval.
func (s *ExpirySweeper) Job(interval time.Duration) Job {
	return Job{Name: "expiry-sweep", Interval: interval, Run: func(ctx context.Context) error {
		_, err := s.Sweep(ctx)
		return err
	}}
}

// Sweep lists the good certificates whose NotAfter lies in [previous
// sweep, now) and logs their count and first serials. A failed sweep is
// retried over the same window. Errors: the store's List errors.
func (s *ExpirySweeper) Sweep(ctx context.Context) (SweepResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	res := SweepResult{Since: s.last, Until: now()}
	f := sdk.ListFilter{Status: sdk.StatusGood, ExpiresBefore: res.Until}
	if !s.last.IsZero() {
		// ExpiresAfter is strict; one nanosecond earlier makes the window
		// closed at Since, so a NotAfter equal to the previous Until is
		// counted once, here.
		f.ExpiresAfter = s.last.Add(-time.Nanosecond)
	}
	err := s.Store.List(ctx, f, func(rec *sdk.CertRecord) error {
		res.Count++
		if len(res.Serials) < maxReportedSerials {
			res.Serials = append(res.Serials, rec.Serial)
		}
		return nil
	})
	if err != nil {
		return SweepResult{}, fmt.Errorf("expiry sweep: %w", err)
	}
	s.last = res.Until
	if res.Count > 0 && s.Log != nil {
		s.Log.Info("expiry sweep: good certificates have expired",
			"count", res.Count, "serials", res.Serials, "since", res.Since, "until", res.Until)
	}
	if s.OnSweep != nil {
		s.OnSweep(res)
	}
	return res, nil
}
