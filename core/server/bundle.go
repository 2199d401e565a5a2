package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pkid/pkid/core/bundle"
	"github.com/pkid/pkid/core/egress"
)

// BundleOptions enables the bundle endpoint and the "bundle": true of
// sign, authsign and newcert.
type BundleOptions struct {
	// Pool returns the current trust pool (it may change between calls:
	// trust sources reload). Required.
	Pool func() *bundle.Pool
	// Fetcher chases AIA caIssuers URLs; nil: no chasing (the default).
	// It is expected to apply the egress policy.
	Fetcher bundle.Fetcher
	// Stash keeps the intermediates a chain fetched (CFSSL's -int-dir).
	Stash string
	// DialTLS returns the certificates served at hostport, leaf first,
	// presenting serverName (SNI), without verifying them (the bundler
	// does). It is expected to apply the egress policy and to return an
	// error wrapping egress.ErrDenied for a refused host. Nil: the domain
	// mode is refused.
	DialTLS func(ctx context.Context, hostport, serverName string) ([]*x509.Certificate, error)
	// Limits bound the bundler's work per request (zero: its defaults).
	Limits bundle.Limits
	// SCTs verifies the leaf's embedded SCTs (the bundle block's
	// ct_log_list); nil: they are not looked at.
	SCTs bundle.SCTVerifier
}

// CFSSL's dial failure code (category 6000: network).
const codeDialError = 6000

// bundleDeadline bounds one bundling, AIA fetches included, well inside
// the HTTP server's write timeout.
const bundleDeadline = 30 * time.Second

// bundleRequest serves /bundle: keyword sets {certificate} then {domain};
// flavor, private_key, domain and ip refine them (docs/bundler-operations.md).
func (s *Server) bundleRequest(c *call) (*reply, error) {
	m, err := decodeStringMap(c.body)
	if err != nil {
		return nil, err
	}
	req := bundle.Request{Flavor: bundle.ParseFlavor(m["flavor"])}
	if ip := strings.TrimSpace(m["ip"]); ip != "" {
		if req.IP = net.ParseIP(ip); req.IP == nil {
			return nil, badRequest("ip %q is not an IP address", ip)
		}
	}
	switch {
	case has(m, "certificate"):
		chain, _, err := bundle.ParseChain([]byte(m["certificate"]), "")
		if err != nil {
			return nil, bundleError(err)
		}
		req.Chain = chain
		if k := m["private_key"]; strings.TrimSpace(k) != "" {
			if req.Key, err = bundle.ParseKey([]byte(k)); err != nil {
				return nil, bundleError(err)
			}
			req.KeyPEM = []byte(k)
		}
		req.Hostname = strings.TrimSpace(m["domain"])
	case has(m, "domain"):
		domain := strings.TrimSpace(m["domain"])
		if domain == "" {
			return nil, badRequest("missing parameter 'domain'")
		}
		chain, err := s.fetchChain(c.r.Context(), domain, req.IP)
		if err != nil {
			return nil, err
		}
		req.Chain, req.Hostname, req.IP = chain, hostOnly(domain), nil
	default:
		return nil, badRequest("no valid parameter sets found")
	}
	b, err := s.runBundler(c.r.Context(), req)
	if err != nil {
		return nil, err
	}
	return &reply{result: b}, nil
}

// hostOnly drops a port from host[:port].
func hostOnly(domain string) string {
	if h, _, err := net.SplitHostPort(domain); err == nil {
		return h
	}
	return strings.Trim(domain, "[]")
}

// fetchChain dials domain (or ip, presenting domain) on port 443 unless
// domain names one. A host outside the egress allowlist is a 403 naming it.
func (s *Server) fetchChain(ctx context.Context, domain string, ip net.IP) ([]*x509.Certificate, error) {
	bo := s.opts.Bundle
	if bo.DialTLS == nil {
		return nil, requestError(http.StatusForbidden, "bundle: fetching %s is refused: this server does not dial out", domain)
	}
	host, port := hostOnly(domain), "443"
	if _, p, err := net.SplitHostPort(domain); err == nil {
		port = p
	}
	addr := host
	if ip != nil {
		addr = ip.String()
	}
	chain, err := bo.DialTLS(ctx, net.JoinHostPort(addr, port), host)
	switch {
	case errors.Is(err, egress.ErrDenied):
		return nil, requestError(http.StatusForbidden, "bundle: %v", err)
	case err != nil:
		return nil, codedError(codeDialError, "bundle: fetching the chain of %s: %v", net.JoinHostPort(addr, port), err)
	case len(chain) == 0:
		return nil, codedError(codeDialError, "bundle: %s presented no certificate", net.JoinHostPort(addr, port))
	}
	return chain, nil
}

// deniedFetcher records the AIA fetches the egress policy refused, so a
// failed bundle can say which host it was not allowed to reach.
type deniedFetcher struct {
	next   bundle.Fetcher
	mu     sync.Mutex
	denied []string
}

func (f *deniedFetcher) Fetch(ctx context.Context, url string) ([]*x509.Certificate, error) {
	certs, err := f.next.Fetch(ctx, url)
	if errors.Is(err, egress.ErrDenied) {
		f.mu.Lock()
		f.denied = append(f.denied, err.Error())
		f.mu.Unlock()
	}
	return certs, err
}

// runBundler bundles with the current pool. A failure that followed a
// refused AIA fetch is a 403 naming the host.
func (s *Server) runBundler(ctx context.Context, req bundle.Request) (*bundle.Bundle, error) {
	ctx, cancel := context.WithTimeout(ctx, bundleDeadline)
	defer cancel()
	bo := s.opts.Bundle
	b := &bundle.Bundler{Pool: bo.Pool(), Stash: bo.Stash, Limits: bo.Limits, SCTs: bo.SCTs}
	var df *deniedFetcher
	if bo.Fetcher != nil {
		df = &deniedFetcher{next: bo.Fetcher}
		b.Fetcher = df
	}
	out, err := b.Bundle(ctx, req)
	if err != nil {
		if df != nil && len(df.denied) > 0 {
			return nil, requestError(http.StatusForbidden, "bundle: %s; AIA fetch refused: %s", bundleError(err).Error(), strings.Join(df.denied, "; "))
		}
		return nil, bundleError(err)
	}
	return out, nil
}

// bundleError maps the bundler's *bundle.Error to its CFSSL code (400).
func bundleError(err error) error {
	var be *bundle.Error
	if errors.As(err, &be) {
		return codedError(be.Code, "%s", be.Error())
	}
	return err
}

// attachBundle adds the optimal bundle of cert (issued by issuer) to
// result, as CFSSL's sign does. The certificate is already issued and
// recorded, so a bundling failure does not fail the request: it becomes a
// message with the bundler's code.
func (s *Server) attachBundle(ctx context.Context, rep *reply, result map[string]any, cert, issuer *x509.Certificate) {
	if s.opts.Bundle == nil {
		rep.messages = append(rep.messages, noBundler)
		return
	}
	chain := []*x509.Certificate{cert}
	if issuer != nil {
		chain = append(chain, issuer)
	}
	b, err := s.runBundler(ctx, bundle.Request{Chain: chain, Flavor: bundle.Optimal})
	if err != nil {
		_, code, msg, internal := classify(err)
		if internal {
			msg = "bundling failed"
		}
		rep.messages = append(rep.messages, message{Code: code, Message: fmt.Sprintf("the certificate is returned without a bundle: %s", msg)})
		return
	}
	result["bundle"] = b
}
