package server

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca/lint"
)

// Event is one API request as metrics and the audit log see it.
type Event struct {
	Endpoint  string
	RequestID string
	// Label is the CA the request was served by (a configured label, or
	// ""); Profile is its profile when the CA has it, else "" — request
	// values that name nothing configured never reach a metric label.
	Label, Profile string
	Remote         string
	// Client is the verified client certificate's subject CN, if any.
	Client   string
	Status   int
	Duration time.Duration // zero in Commit
	// Err is the request's error, nil on success.
	Err error
	// Issued is the certificate issued (sign, authsign, newcert).
	Issued *x509.Certificate
	// Revoked is what revoke did.
	Revoked *authority.Revoked
}

// AuthFailure reports whether the request was refused for missing or
// wrong authentication (token or client certificate).
func (e *Event) AuthFailure() bool {
	if e.Err == nil {
		return false
	}
	// An error that knows (ACME's problems) decides: there a 403 is
	// mostly about an order's state, not the caller.
	var knows interface{ AuthFailure() bool }
	if errors.As(e.Err, &knows) {
		return knows.AuthFailure()
	}
	if e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized {
		return true
	}
	msg := e.Err.Error()
	return strings.HasPrefix(msg, "authentication required") || strings.HasPrefix(msg, "invalid token") ||
		strings.HasPrefix(msg, "no authentication provider")
}

// LintRefusals names the lints that refused an issuance.
func (e *Event) LintRefusals() []string {
	var re *lint.RefusalError
	if !errors.As(e.Err, &re) {
		return nil
	}
	names := make([]string, len(re.Findings))
	for i, f := range re.Findings {
		names[i] = f.Name
	}
	return names
}

// Observer watches requests (Options.Observer).
type Observer interface {
	// Commit runs after an endpoint succeeded and before its reply is
	// sent, for requests that issued or revoked: an error answers 503
	// instead (the audit log fails closed: no certificate leaves
	// without its record). The revocation itself stays recorded.
	Commit(ctx context.Context, ev *Event) error
	// Done runs after every reply.
	Done(ctx context.Context, ev *Event)
}

// observed is what a call collects for its Observer.
type observed struct {
	err     error
	issued  *x509.Certificate
	revoked *authority.Revoked
}

// event builds c's Event.
func (s *Server) event(c *call, status int, d time.Duration) *Event {
	ev := &Event{Endpoint: c.endpoint, RequestID: c.id, Remote: c.r.RemoteAddr, Status: status,
		Duration: d, Err: c.obs.err, Issued: c.obs.issued, Revoked: c.obs.revoked}
	if c.label != "" && s.opts.CAs != nil {
		if iss, err := s.opts.CAs.Get(c.label); err == nil {
			ev.Label = c.label
			if _, err := iss.Profiles().Lookup(c.profile); err == nil {
				ev.Profile = c.profile
			}
		}
	}
	if ev.Revoked != nil && ev.Revoked.Issuer != nil {
		ev.Label = ev.Revoked.Issuer.Label()
	}
	if vc := verifiedClient(c.r); vc != nil {
		ev.Client = vc.Subject.CommonName
	}
	return ev
}

// commit runs the Observer's Commit for a successful issuance or
// revocation.
func (s *Server) commit(c *call) error {
	if s.opts.Observer == nil || (c.obs.issued == nil && c.obs.revoked == nil) {
		return nil
	}
	if err := s.opts.Observer.Commit(c.r.Context(), s.event(c, http.StatusOK, 0)); err != nil {
		return &apiError{status: http.StatusServiceUnavailable, code: http.StatusServiceUnavailable, msg: "the audit log is unavailable (retryable)", cause: err}
	}
	return nil
}

// done runs the Observer's Done.
func (s *Server) done(c *call, status int, start time.Time) {
	if s.opts.Observer != nil {
		s.opts.Observer.Done(c.r.Context(), s.event(c, status, time.Since(start)))
	}
}
