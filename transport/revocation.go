package transport

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// RevocationMode says what happens when no revocation source answers.
type RevocationMode int

const (
	// FailOpen accepts a peer whose status cannot be learnt (counted in
	// Health.RevocationUnknown).
	FailOpen RevocationMode = iota
	// FailClosed refuses it.
	FailClosed
	// RevocationOff checks nothing.
	RevocationOff
)

// Revocation defaults.
const (
	DefaultCacheTTL          = time.Minute
	DefaultRevocationTimeout = 3 * time.Second
	// maxRevocationBytes bounds an OCSP response or CRL read from the
	// network.
	maxRevocationBytes = 8 << 20
)

// ErrRevoked is the verification error for a revoked peer.
var ErrRevoked = errors.New("transport: peer certificate is revoked")

// ErrRevocationUnknown is the verification error under FailClosed when no
// source gave the peer's status.
var ErrRevocationUnknown = errors.New("transport: peer certificate's revocation status is unknown")

// RevocationConfig configures peer revocation checks.
type RevocationConfig struct {
	Mode RevocationMode
	// CacheTTL bounds how long an answer (OCSP status, CRL) is reused, so a
	// revocation is seen within it (0: DefaultCacheTTL). A response whose
	// own NextUpdate is sooner expires then.
	CacheTTL time.Duration
	// Timeout bounds each fetch (0: DefaultRevocationTimeout).
	Timeout time.Duration
	// HTTPClient fetches OCSP responses and CRLs (nil: a client with
	// Timeout). Its transport decides which URLs may be reached.
	HTTPClient *http.Client
}

// status is a cached answer.
type status struct {
	revoked    bool
	expires    time.Time
	thisUpdate time.Time
}

// crlEntry is a cached CRL.
type crlEntry struct {
	list    *x509.RevocationList
	expires time.Time
}

// checker checks and caches revocation status.
type checker struct {
	cfg RevocationConfig
	now func() time.Time

	mu      sync.Mutex
	cache   map[string]status
	crls    map[string]crlEntry
	unknown int64
}

func newChecker(cfg RevocationConfig, now func() time.Time) *checker {
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultRevocationTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	return &checker{cfg: cfg, now: now, cache: map[string]status{}, crls: map[string]crlEntry{}}
}

func cacheKey(leaf, issuer *x509.Certificate) string {
	return fmt.Sprintf("%x/%s", issuer.SubjectKeyId, leaf.SerialNumber)
}

// check returns nil for a good (or, under FailOpen, unknown) certificate,
// ErrRevoked, or ErrRevocationUnknown wrapping the sources' errors.
func (c *checker) check(ctx context.Context, leaf, issuer *x509.Certificate, staple []byte) error {
	if c.cfg.Mode == RevocationOff {
		return nil
	}
	now := c.now()
	key := cacheKey(leaf, issuer)
	// A staple is the peer's own evidence: used only while younger than
	// CacheTTL, or a revoked peer could show a "good" answer signed before
	// its revocation until that answer's NextUpdate.
	if len(staple) > 0 {
		if st, err := c.parseOCSP(staple, leaf, issuer, now); err == nil && st.thisUpdate.Add(c.cfg.CacheTTL).After(now) {
			c.put(key, st)
			return verdict(st)
		}
	}
	c.mu.Lock()
	st, ok := c.cache[key]
	c.mu.Unlock()
	if ok && now.Before(st.expires) {
		return verdict(st)
	}
	var errs []error
	for _, u := range leaf.OCSPServer {
		st, err := c.fetchOCSP(ctx, u, leaf, issuer, now)
		if err == nil {
			c.put(key, st)
			return verdict(st)
		}
		errs = append(errs, err)
	}
	for _, u := range leaf.CRLDistributionPoints {
		st, err := c.fromCRL(ctx, u, leaf, issuer, now)
		if err == nil {
			c.put(key, st)
			return verdict(st)
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("the certificate names no OCSP responder or CRL"))
	}
	c.mu.Lock()
	c.unknown++
	c.mu.Unlock()
	if c.cfg.Mode == FailClosed {
		return fmt.Errorf("%w: %w", ErrRevocationUnknown, errors.Join(errs...))
	}
	return nil
}

func verdict(st status) error {
	if st.revoked {
		return ErrRevoked
	}
	return nil
}

func (c *checker) put(key string, st status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Expired answers go when the cache grows: it stays bounded by the
	// number of peers seen within one TTL.
	if len(c.cache) > 4096 {
		now := c.now()
		for k, v := range c.cache {
			if !now.Before(v.expires) {
				delete(c.cache, k)
			}
		}
	}
	c.cache[key] = st
}

// expiry is when an answer with nextUpdate stops being used.
func (c *checker) expiry(now, nextUpdate time.Time) time.Time {
	exp := now.Add(c.cfg.CacheTTL)
	if !nextUpdate.IsZero() && nextUpdate.Before(exp) {
		exp = nextUpdate
	}
	return exp
}

// parseOCSP checks an OCSP response for leaf (signature, freshness).
func (c *checker) parseOCSP(der []byte, leaf, issuer *x509.Certificate, now time.Time) (status, error) {
	r, err := ocsp.ParseResponseForCert(der, leaf, issuer)
	if err != nil {
		return status{}, fmt.Errorf("ocsp: %w", err)
	}
	if !r.NextUpdate.IsZero() && now.After(r.NextUpdate) {
		return status{}, errors.New("ocsp: response is stale")
	}
	switch r.Status {
	case ocsp.Good:
		return status{expires: c.expiry(now, r.NextUpdate), thisUpdate: r.ThisUpdate}, nil
	case ocsp.Revoked:
		return status{revoked: true, expires: c.expiry(now, r.NextUpdate), thisUpdate: r.ThisUpdate}, nil
	}
	return status{}, errors.New("ocsp: status unknown")
}

func (c *checker) fetchOCSP(ctx context.Context, url string, leaf, issuer *x509.Certificate, now time.Time) (status, error) {
	req, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		return status{}, fmt.Errorf("ocsp: %w", err)
	}
	body, err := c.fetch(ctx, http.MethodPost, url, req, "application/ocsp-request")
	if err != nil {
		return status{}, fmt.Errorf("ocsp %s: %w", url, err)
	}
	return c.parseOCSP(body, leaf, issuer, now)
}

func (c *checker) fromCRL(ctx context.Context, url string, leaf, issuer *x509.Certificate, now time.Time) (status, error) {
	c.mu.Lock()
	e, ok := c.crls[url]
	c.mu.Unlock()
	if !ok || !now.Before(e.expires) {
		body, err := c.fetch(ctx, http.MethodGet, url, nil, "")
		if err != nil {
			return status{}, fmt.Errorf("crl %s: %w", url, err)
		}
		rl, err := x509.ParseRevocationList(body)
		if err != nil {
			return status{}, fmt.Errorf("crl %s: %w", url, err)
		}
		if err := rl.CheckSignatureFrom(issuer); err != nil {
			return status{}, fmt.Errorf("crl %s: not signed by the peer's issuer: %w", url, err)
		}
		if !rl.NextUpdate.IsZero() && now.After(rl.NextUpdate) {
			return status{}, fmt.Errorf("crl %s: stale", url)
		}
		e = crlEntry{list: rl, expires: c.expiry(now, rl.NextUpdate)}
		c.mu.Lock()
		c.crls[url] = e
		c.mu.Unlock()
	}
	for _, r := range e.list.RevokedCertificateEntries {
		if r.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			return status{revoked: true, expires: e.expires}, nil
		}
	}
	return status{expires: e.expires}, nil
}

func (c *checker) fetch(ctx context.Context, method, url string, body []byte, ctype string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRevocationBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRevocationBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxRevocationBytes)
	}
	return data, nil
}

// unknownCount is how many checks found no answer.
func (c *checker) unknownCount() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unknown
}
