package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/pkid/pkid/sdk"
)

// healthTimeout bounds the store probe.
const healthTimeout = 2 * time.Second

// healthResult is health's result.
type healthResult struct {
	Healthy bool `json:"healthy"`
}

// errStop ends the store probe after one record.
var errStop = errors.New("stop")

// health serves /health (DD-23): 200 {"healthy":true}, or 503 naming the
// failing part. Cheap checks: the store answers a one-record listing, and
// every CA certificate is currently valid.
func (s *Server) health(c *call) (*reply, error) {
	if err := s.checkHealth(c.r.Context()); err != nil {
		return &reply{
			status: http.StatusServiceUnavailable,
			result: healthResult{Healthy: false},
			err:    &message{Code: http.StatusServiceUnavailable, Message: err.Error()},
		}, nil
	}
	return &reply{result: healthResult{Healthy: true}}, nil
}

// checkHealth returns the first failing part.
func (s *Server) checkHealth(ctx context.Context) error {
	if s.opts.Store != nil {
		ctx, cancel := context.WithTimeout(ctx, healthTimeout)
		defer cancel()
		err := s.opts.Store.List(ctx, sdk.ListFilter{Limit: 1}, func(*sdk.CertRecord) error { return errStop })
		if err != nil && !errors.Is(err, errStop) {
			s.log.Warn("health: certificate store probe failed", "error", err)
			return fmt.Errorf("certificate store unavailable")
		}
	}
	now := time.Now()
	for _, label := range s.opts.CAs.Labels() {
		cert := s.opts.CAs.CAs[label].Certificate()
		if cert == nil || now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
			return fmt.Errorf("CA %q: signer unavailable: its certificate is not currently valid", label)
		}
	}
	names := slices.Sorted(maps.Keys(s.opts.HealthChecks))
	for _, name := range names {
		ctx, cancel := context.WithTimeout(ctx, healthTimeout)
		err := s.opts.HealthChecks[name](ctx)
		cancel()
		if err != nil {
			s.log.Warn("health: check failed", "check", name, "error", err)
			return fmt.Errorf("%s unavailable", name)
		}
	}
	return nil
}
