package validation

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
)

// errRedirect marks a redirect the policy refused.
var errRedirect = errors.New("redirect refused")

// http01 fetches http://NAME[:HTTPPort]/.well-known/acme-challenge/TOKEN
// (RFC 8555 section 8.3) and compares the body, whitespace trimmed, with
// the key authorization. It returns the addresses contacted.
func (l *Local) http01(ctx context.Context, req Request) ([]string, *Problem) {
	d := &dialer{l: l}
	host := req.Identifier.Value
	if req.Identifier.Type == "ip" {
		// An IPv6 literal needs brackets in a URL.
		host = net.JoinHostPort(host, "")
		host = host[:len(host)-1]
	}
	if l.opts.HTTPPort != 80 {
		host = net.JoinHostPort(req.Identifier.Value, strconv.Itoa(l.opts.HTTPPort))
	}
	target := "http://" + host + "/.well-known/acme-challenge/" + req.Token

	transport := &http.Transport{
		Proxy:       nil, // the perspective itself must connect
		DialContext: d.dial,
		// A redirect to https is followed without checking the
		// certificate: the key authorization proves control, not the
		// certificate (the site may be getting its first one).
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 16 << 10,
		ForceAttemptHTTP2:      false,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			return l.checkRedirect(req, r.URL, len(via))
		},
	}
	// Resolve the identifier first: the transport reports a dial that
	// outlives the deadline only as its own cancellation.
	if req.Identifier.Type == "dns" {
		if _, err := d.resolve(ctx, req.Identifier.Value); err != nil {
			return nil, problem(ProblemDNS, "%v", err)
		}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, problem(ProblemMalformed, "building the request: %v", err)
	}
	hreq.Header.Set("User-Agent", "pkid-acme-validator")
	hreq.Header.Set("Accept", "*/*")
	resp, err := client.Do(hreq)
	if err != nil {
		return d.addresses(), fetchProblem(ctx, target, err)
	}
	defer resp.Body.Close()
	where := resp.Request.URL.String()
	if resp.StatusCode != http.StatusOK {
		return d.addresses(), problem(ProblemUnauthorized, "%s answered HTTP %d, want 200", where, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxHTTPBody+1))
	if err != nil {
		return d.addresses(), fetchProblem(ctx, where, err)
	}
	if len(body) > MaxHTTPBody {
		return d.addresses(), problem(ProblemUnauthorized, "%s answered more than %d bytes", where, MaxHTTPBody)
	}
	if got := bytes.TrimSpace(body); string(got) != req.KeyAuthorization {
		if where != target {
			// A redirect can point anywhere the validator reaches (an
			// intranet for an internal CA): what answered there is not
			// quoted to the ACME client.
			return d.addresses(), problem(ProblemIncorrectResponse, "%s (redirected from %s) answered %d bytes that are not the key authorization %q", where, target, len(got), req.KeyAuthorization)
		}
		return d.addresses(), problem(ProblemIncorrectResponse, "%s answered %s, want the key authorization %q", where, excerpt(got), req.KeyAuthorization)
	}
	return d.addresses(), nil
}

// checkRedirect allows at most MaxRedirects redirects, to http on the
// HTTP port or https on the TLS port, to a DNS name (or, for an ip
// identifier, an IP address).
func (l *Local) checkRedirect(req Request, u *url.URL, n int) error {
	if n > MaxRedirects {
		return fmt.Errorf("%w: more than %d redirects", errRedirect, MaxRedirects)
	}
	want := 0
	switch u.Scheme {
	case "http":
		want = l.opts.HTTPPort
	case "https":
		want = l.opts.TLSPort
	default:
		return fmt.Errorf("%w: to %q: only http and https", errRedirect, u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if port != strconv.Itoa(want) {
		return fmt.Errorf("%w: to %q: %s redirects must go to port %d", errRedirect, u.Redacted(), u.Scheme, want)
	}
	if u.User != nil {
		return fmt.Errorf("%w: to %q: user information in the URL", errRedirect, u.Redacted())
	}
	h := u.Hostname()
	if net.ParseIP(h) != nil {
		if req.Identifier.Type != "ip" {
			return fmt.Errorf("%w: to %q: an IP address for a dns identifier", errRedirect, u.Redacted())
		}
	} else if !validDNSName(h) {
		return fmt.Errorf("%w: to %q: not a DNS name", errRedirect, u.Redacted())
	}
	return nil
}

// fetchProblem classifies a failed fetch: resolution (dns), a refused
// redirect, a timeout or any other connection failure (connection).
func fetchProblem(ctx context.Context, target string, err error) *Problem {
	var de *dnsError
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.As(err, &de):
		return problem(ProblemDNS, "fetching %s: %v", target, de.err)
	case errors.Is(err, errRedirect):
		return problem(ProblemConnection, "fetching %s: %v", target, err)
	case ctx.Err() != nil:
		return problem(ProblemConnection, "fetching %s: timed out", target)
	}
	var re tls.RecordHeaderError
	if errors.As(err, &re) {
		return problem(ProblemTLS, "fetching %s: %v", target, err)
	}
	return problem(ProblemConnection, "fetching %s: %v", target, err)
}

// excerpt quotes the start of what a server sent, for a problem detail.
func excerpt(b []byte) string {
	const max = 128
	if len(b) > max {
		return fmt.Sprintf("%q...", b[:max])
	}
	return fmt.Sprintf("%q", b)
}
