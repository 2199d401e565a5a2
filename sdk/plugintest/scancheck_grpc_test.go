package plugintest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// scanLive is a scancheck a test drives from the plugin's side: its
// "live/endless" check makes findings until stopped, "live/block" makes
// one and then waits for its context, "live/fields" makes two findings
// with every field set. Each Run reports how it ended and the deadline it
// saw.
type scanLive struct {
	ended     chan error     // each Run's result
	deadlines chan time.Time // each Run's context deadline (zero: none)
}

func newScanLive() *scanLive {
	return &scanLive{ended: make(chan error, 16), deadlines: make(chan time.Time, 16)}
}

func (*scanLive) Close() error { return nil }

var scanLiveFamilies = []sdk.ScanFamily{
	{Name: "live", Description: "driven by the test", Checks: []sdk.ScanCheckInfo{
		{Name: "endless", Description: "findings until stopped"},
		{Name: "block", Description: "one finding, then waits"},
		{Name: "fields", Description: "every field set"},
	}},
	{Name: "other", Checks: []sdk.ScanCheckInfo{{Name: "x"}}},
}

func (*scanLive) Families(context.Context) ([]sdk.ScanFamily, error) { return scanLiveFamilies, nil }

var scanLiveFields = []sdk.Finding{
	{Family: "live", Check: "fields", Grade: sdk.GradeWarning, Reason: "weak", Output: json.RawMessage(`{"ciphers":["a","b"]}`)},
	{Family: "live", Check: "fields", Grade: sdk.GradeGood},
}

func (s *scanLive) Run(ctx context.Context, req sdk.ScanRequest, fn func(*sdk.Finding) error) (err error) {
	dl, _ := ctx.Deadline()
	s.deadlines <- dl
	defer func() { s.ended <- err }()
	if req.Host == "" {
		return fmt.Errorf("empty host: %w", sdk.ErrInvalidArgument)
	}
	f := sdk.Finding{Family: req.Family, Check: req.Check, Grade: sdk.GradeGood}
	switch req.Family + "/" + req.Check {
	case "live/endless":
		for {
			if err := fn(&f); err != nil {
				return err
			}
		}
	case "live/block":
		if err := fn(&f); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	case "live/fields":
		for i := range scanLiveFields {
			if err := fn(&scanLiveFields[i]); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("no check %s/%s: %w", req.Family, req.Check, sdk.ErrNotFound)
}

func serveScanLive(t *testing.T, s *scanLive) sdk.ScanCheck {
	t.Helper()
	var seen sdk.Config
	c := ServeGRPC(t, adapterPlugin{kinds: []string{sdk.KindScanCheck}, inst: func() sdk.Instance { return s }, seen: &seen})
	Configure(t, c, sdk.KindScanCheck, "live", map[string]any{})
	return c.ScanCheck("live")
}

// Cancelling the host's context stops the plugin's check.
func TestScanCheckGRPCCancelStopsCheck(t *testing.T) {
	s := newScanLive()
	sc := serveScanLive(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	err := sc.Run(ctx, sdk.ScanRequest{Family: "live", Check: "block", Host: "127.0.0.1:1"}, func(*sdk.Finding) error {
		cancel() // the check now waits for its context
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: %v, want context.Canceled", err)
	}
	if perr := wait(t, s.ended, "the plugin's check to stop"); !errors.Is(perr, context.Canceled) {
		t.Errorf("the plugin's check ended with %v, want context.Canceled", perr)
	}
}

// The host's deadline (the per-host timeout) is the check's deadline.
func TestScanCheckGRPCDeadline(t *testing.T) {
	s := newScanLive()
	sc := serveScanLive(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()
	err := sc.Run(ctx, sdk.ScanRequest{Family: "live", Check: "block", Host: "127.0.0.1:1"}, func(*sdk.Finding) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run past its deadline: %v, want context.DeadlineExceeded", err)
	}
	got := wait(t, s.deadlines, "the plugin's deadline")
	if got.IsZero() || got.Sub(want).Abs() > 100*time.Millisecond {
		t.Errorf("the plugin's check has deadline %v, want about %v", got, want)
	}
	// The plugin's own timer or the host's reset of the stream, whichever
	// comes first, ends the check.
	if perr := wait(t, s.ended, "the plugin's check to stop"); !errors.Is(perr, context.DeadlineExceeded) && !errors.Is(perr, context.Canceled) {
		t.Errorf("the plugin's check ended with %v, want its context's end", perr)
	}
}

// An error from the host's callback is returned as is and stops even an
// endless check.
func TestScanCheckGRPCCallbackErrorStops(t *testing.T) {
	s := newScanLive()
	sc := serveScanLive(t, s)
	stop := errors.New("host: enough")
	calls := 0
	err := sc.Run(t.Context(), sdk.ScanRequest{Family: "live", Check: "endless", Host: "127.0.0.1:1"}, func(*sdk.Finding) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Fatalf("Run: %v after %d calls, want the callback's own error after 2", err, calls)
	}
	if perr := wait(t, s.ended, "the plugin's endless check to stop"); perr == nil {
		t.Error("the plugin's check ended without an error")
	}
}

// Families and findings cross the wire whole; errors as their sentinels.
func TestScanCheckGRPCFields(t *testing.T) {
	s := newScanLive()
	sc := serveScanLive(t, s)
	fams, err := sc.Families(t.Context())
	if err != nil || !reflect.DeepEqual(fams, scanLiveFamilies) {
		t.Errorf("Families over gRPC:\n got %+v, %v\nwant %+v", fams, err, scanLiveFamilies)
	}
	var got []sdk.Finding
	err = sc.Run(t.Context(), sdk.ScanRequest{Family: "live", Check: "fields", Host: "example.test", IP: "127.0.0.1"}, func(f *sdk.Finding) error {
		got = append(got, *f)
		return nil
	})
	want := append([]sdk.Finding(nil), scanLiveFields...)
	want[1].Output = nil
	for i := range got {
		if len(got[i].Output) == 0 {
			got[i].Output = nil
		}
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("findings over gRPC:\n got %+v, %v\nwant %+v", got, err, want)
	}
	noop := func(*sdk.Finding) error { return nil }
	if err := sc.Run(t.Context(), sdk.ScanRequest{Family: "live", Check: "nope", Host: "h"}, noop); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("unknown check: %v, want ErrNotFound", err)
	}
	if err := sc.Run(t.Context(), sdk.ScanRequest{Family: "live", Check: "fields"}, noop); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("empty host: %v, want ErrInvalidArgument", err)
	}
}
