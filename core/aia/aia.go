// Package aia fetches the issuer certificates named by a certificate's
// Authority Information Access caIssuers URLs, for the bundler to complete
// chains whose intermediates the client left out. Every connection goes
// through an egress.Policy (the daemon's allowlist; the CLI's is
// unrestricted), under a time limit and a response size limit. Keeping
// what was fetched (CFSSL's -int-dir) is the bundler's job: it stashes only
// the intermediates a verified chain used.
package aia

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/pkid/pkid/core/egress"
)

// Defaults for the zero Fetcher fields.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultMaxBytes = 256 << 10 // a certificate is ~1-2 KiB; a PKCS#7 bag of a few more
	maxRedirects    = 3
	maxCerts        = 16
)

// ErrTooLarge is wrapped when a response exceeds MaxBytes.
var ErrTooLarge = errors.New("aia: response too large")

// Fetcher implements the bundler's Fetcher over HTTP. Its zero value with
// a nil Policy dials nothing. Safe for concurrent use once in use.
type Fetcher struct {
	// Policy decides which hosts may be dialed (nil: none).
	Policy *egress.Policy
	// Timeout bounds one fetch, redirects and body included
	// (0: DefaultTimeout).
	Timeout time.Duration
	// MaxBytes bounds a response body (0: DefaultMaxBytes).
	MaxBytes int64
}

// Fetch returns the certificates at rawURL: a DER certificate, PEM
// certificates, or a PKCS#7 certs-only bag (DER or PEM). Errors: one
// wrapping egress.ErrDenied when the policy refuses the host (also after a
// redirect); ErrTooLarge; context.DeadlineExceeded past Timeout; others for
// a URL that is not http(s), a non-200 answer or a body holding no
// certificate.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) ([]*x509.Certificate, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("aia: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("aia: %q: only http and https URLs are fetched", rawURL)
	}
	timeout, limit := f.Timeout, f.MaxBytes
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	policy := f.Policy
	if policy == nil {
		policy = &egress.Policy{}
	}
	client := &http.Client{
		Transport: policy.Transport(),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to a %s URL", req.URL.Scheme)
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("aia: %w", err)
	}
	req.Header.Set("User-Agent", "pkid-aia")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("aia: fetching %s: %w", redact(u), unwrapURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("aia: fetching %s: HTTP %d", redact(u), resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("aia: fetching %s: %d bytes: %w", redact(u), resp.ContentLength, ErrTooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("aia: reading %s: %w", redact(u), err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("aia: fetching %s: more than %d bytes: %w", redact(u), limit, ErrTooLarge)
	}
	certs, err := ParseCerts(body)
	if err != nil {
		return nil, fmt.Errorf("aia: %s: %w", redact(u), err)
	}
	return certs, nil
}

// unwrapURL drops *url.Error's "Get URL:" prefix: callers name the URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact drops user information and the query from a URL for messages.
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment = nil, "", ""
	return c.String()
}
