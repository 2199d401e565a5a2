package scanchecks

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pkid/pkid/sdk"
)

// defaultTimeout bounds a Run whose context has no deadline (CFSSL's
// default scan timeout).
const defaultTimeout = time.Minute

// checker is a configured instance; it is safe for concurrent use.
type checker struct {
	roots       *x509.CertPool // nil: the system pool
	dialTimeout time.Duration
	guidelines  *guidelines
	revocation  bool // fetch OCSP/CRL for the Revocation check
	now         func() time.Time
	families    []*family
}

// family is one family of checks; order is the order Families reports.
type family struct {
	name, desc string
	checks     []*check
}

type check struct {
	name, desc string
	run        func(ctx context.Context, e *env) error
}

// env is one Run: the target and the finding sink.
type env struct {
	c      *checker
	t      *target
	family string
	check  string
	fn     func(*sdk.Finding) error
	addrs  []string // resolved addresses (not host:port), set before run
}

// addr is the first address as host:port: the one single-address checks dial.
func (e *env) addr() string { return e.t.dialAddr(e.addrs[0]) }

// emit sends one finding; output, when not nil, is marshalled as JSON.
func (e *env) emit(g sdk.Grade, reason string, output any) error {
	f := &sdk.Finding{Family: e.family, Check: e.check, Grade: g, Reason: reason}
	if g != sdk.GradeGood && reason == "" {
		f.Reason = string(g)
	}
	if output != nil {
		b, err := json.Marshal(output)
		if err != nil {
			return fmt.Errorf("scan-checks: %s/%s output: %w", e.family, e.check, err)
		}
		f.Output = b
	}
	return e.fn(f)
}

// fail reports that the check could not run against the target (Bad, as
// CFSSL grades a scanner that errs).
func (e *env) fail(err error) error { return e.emit(sdk.GradeBad, err.Error(), nil) }

// Close releases nothing: every connection closes when its check ends.
func (c *checker) Close() error { return nil }

// Families describes every family and its checks.
func (c *checker) Families(context.Context) ([]sdk.ScanFamily, error) {
	out := make([]sdk.ScanFamily, 0, len(c.families))
	for _, f := range c.families {
		sf := sdk.ScanFamily{Name: f.name, Description: f.desc}
		for _, ch := range f.checks {
			sf.Checks = append(sf.Checks, sdk.ScanCheckInfo{Name: ch.name, Description: ch.desc})
		}
		out = append(out, sf)
	}
	return out, nil
}

func (c *checker) lookup(fam, name string) *check {
	for _, f := range c.families {
		if f.name != fam {
			continue
		}
		for _, ch := range f.checks {
			if ch.name == name {
				return ch
			}
		}
	}
	return nil
}

// errStop marks an error from the caller's callback, returned as is.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }
func (e errStop) Unwrap() error { return e.err }

// Run runs one check. Errors: sdk.ErrNotFound for an unknown family or
// check, sdk.ErrInvalidArgument for a bad Host or IP, the callback's error
// when it fails. An unreachable target is a finding, not an error.
func (c *checker) Run(ctx context.Context, req sdk.ScanRequest, fn func(*sdk.Finding) error) error {
	ch := c.lookup(req.Family, req.Check)
	if ch == nil {
		return fmt.Errorf("scan-checks: no check %s/%s: %w", req.Family, req.Check, sdk.ErrNotFound)
	}
	t, err := parseTarget(req)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	e := &env{c: c, t: t, family: req.Family, check: req.Check}
	e.fn = func(f *sdk.Finding) error {
		if err := fn(f); err != nil {
			return errStop{err}
		}
		return nil
	}
	if req.Family != "Connectivity" || req.Check != "DNSLookup" {
		addrs, err := t.addrs(ctx)
		if err != nil {
			return unwrapStop(e.fail(err))
		}
		e.addrs = addrs
	}
	if err := ch.run(ctx, e); err != nil {
		if _, stop := err.(errStop); stop {
			return unwrapStop(err)
		}
		// A check that could not finish is a Bad finding, as in CFSSL.
		return unwrapStop(e.fail(err))
	}
	return nil
}

// unwrapStop returns the callback's own error unwrapped; any other error
// from a check is a bug reported as is.
func unwrapStop(err error) error {
	var s errStop
	if errors.As(err, &s) {
		return s.err
	}
	return err
}
