package server

import (
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/pkid/pkid/core/scan"
)

// Scan endpoint bounds (the CFSSL API's, docs/scanner-runner.md).
const (
	minScanTimeout     = time.Second
	maxScanTimeout     = 5 * time.Minute
	defaultScanTimeout = time.Minute
	// DefaultMaxScans bounds the scans running at once when
	// ScanOptions.MaxConcurrent is zero.
	DefaultMaxScans = 4
	// maxScanPattern bounds the family and scanner regular expressions.
	maxScanPattern = 256
	// maxScanHost bounds host: a name is at most 253 bytes, plus a port.
	maxScanHost = 300
)

// ScanOptions enables scan and scaninfo.
type ScanOptions struct {
	// Runner runs every scanner; it must have a Policy (the allowlist of
	// target networks): New refuses an unrestricted one, so the daemon
	// never scans what a caller names without an allowlist.
	Runner *scan.Runner
	// MaxConcurrent bounds the scans in progress; more are refused with
	// 429. 0: DefaultMaxScans.
	MaxConcurrent int
	// MaxTimeout bounds a request's timeout (at most 5m); 0: 5m.
	MaxTimeout time.Duration
}

// initScan checks Options.Scan and sizes the bound of scans in progress.
func (s *Server) initScan() error {
	o := s.opts.Scan
	if o == nil {
		return nil
	}
	if o.Runner == nil || !o.Runner.Restricted() {
		return errors.New("server: scan needs a runner restricted to an allowlist of target networks")
	}
	n := o.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxScans
	}
	s.scans = make(chan struct{}, n)
	s.scanMax = maxScanTimeout
	if o.MaxTimeout > 0 && o.MaxTimeout < maxScanTimeout {
		s.scanMax = o.MaxTimeout
	}
	return nil
}

// scan serves GET /scan?host=H[&ip=&timeout=&family=&scanner=]: one host,
// its results in CFSSL's shape. A host outside the allowlist is 403 naming
// it; more than MaxConcurrent scans at once, 429.
func (s *Server) scan(c *call) (*reply, error) {
	q := c.r.URL.Query()
	host := q.Get("host")
	if host == "" {
		return nil, badRequest("no host given")
	}
	if len(host) > maxScanHost {
		return nil, badRequest("invalid host: longer than %d bytes", maxScanHost)
	}
	timeout := defaultScanTimeout
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < minScanTimeout || d > maxScanTimeout {
			return nil, badRequest("invalid timeout given")
		}
		timeout = d
	}
	if timeout > s.scanMax {
		return nil, badRequest("invalid timeout given: this server allows at most %v", s.scanMax)
	}
	family, scanner := q.Get("family"), q.Get("scanner")
	if len(family) > maxScanPattern || len(scanner) > maxScanPattern {
		return nil, badRequest("family and scanner patterns are limited to %d bytes", maxScanPattern)
	}
	norm, err := scan.NormalizeHost(host)
	if err != nil {
		return nil, badRequest("invalid host: %v", err)
	}
	target := scan.Target{Host: norm, IP: q.Get("ip")}
	if target.IP != "" {
		if _, err := netip.ParseAddr(target.IP); err != nil {
			return nil, badRequest("invalid ip given")
		}
	}
	r, err := s.opts.Scan.Runner.With(scan.FilterRequest{Family: family, Scanner: scanner, Timeout: timeout})
	if err != nil {
		return nil, badRequest("%v", err)
	}
	select {
	case s.scans <- struct{}{}:
		defer func() { <-s.scans }()
	default:
		return nil, requestError(http.StatusTooManyRequests, "too many scans in progress (at most %d): retry later", cap(s.scans))
	}
	res := r.ScanHost(c.r.Context(), target)
	if res.Err != nil {
		if errors.Is(res.Err, scan.ErrDenied) {
			return nil, requestError(http.StatusForbidden, "%v", res.Err)
		}
		return nil, badRequest("cannot scan %s: %v", norm, res.Err)
	}
	return &reply{result: res.Results}, nil
}

// scaninfo serves GET /scaninfo: the families and scanners.
func (s *Server) scaninfo(*call) (*reply, error) {
	return &reply{result: s.opts.Scan.Runner.Info()}, nil
}
