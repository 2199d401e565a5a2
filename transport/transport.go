package transport

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/client"
)

// Defaults of Config.
const (
	DefaultRenewAt    = 2.0 / 3
	DefaultJitter     = 0.05
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
)

// CA says where and how to get certificates.
type CA struct {
	// URL is pkid's base URL ("https://ca.internal:8888"). Renewal needs
	// https: the current certificate authenticates it in the handshake.
	URL string
	// RootCAs verifies pkid's own TLS certificate; nil: the system pool.
	RootCAs *x509.CertPool
	// Label and Profile select the issuing CA and the profile.
	Label, Profile string
	// AuthKey, when set, authenticates the first certificate (authsign,
	// an HMAC token over the request), and a new one after the current
	// certificate expired. Else Bootstrap is used.
	AuthKey []byte
	// Bootstrap is a client certificate that pkid's client_cert_policy
	// admits for sign (used like AuthKey).
	Bootstrap *tls.Certificate
}

// Identity is what the certificate names.
type Identity struct {
	CN    string
	Hosts []string
	// Key is the key to generate (locally) for each certificate; nil:
	// ECDSA P-256.
	Key *csr.KeyRequest
}

// Config configures a Transport.
type Config struct {
	CA       CA
	Identity Identity
	// RenewAt is the fraction of a certificate's lifetime after which it
	// is renewed (0: DefaultRenewAt); Jitter (0: DefaultJitter; negative:
	// none) moves that point by up to ± Jitter of the lifetime, so a fleet
	// does not renew at once.
	RenewAt, Jitter float64
	// MinBackoff and MaxBackoff bound the retry delay after a failed
	// renewal (doubling from MinBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Revocation configures the checks of peers' certificates.
	Revocation RevocationConfig
	// OnRenew, when set, is called with each new certificate before it is
	// put in use (pkid agent writes its files there); an error fails the
	// renewal, which is retried like any other failure.
	OnRenew func(cert *tls.Certificate) error
	// Initial, when set and valid for more than a tenth of its lifetime, is used
	// instead of obtaining a first certificate (a restarted process
	// resuming from the files it wrote). Its chain's second certificate
	// stands in for the CA certificate when the CA cannot be reached.
	Initial *tls.Certificate
	// now replaces the clock in tests.
	now func() time.Time
}

// Peers says which peers a service accepts: certificates that chain to
// Roots (its per-service CA pool; nil trusts nothing, never the system's
// CAs) and, when Names is not empty, name one of Names as common name or
// SAN.
type Peers struct {
	Roots *x509.CertPool
	Names []string
}

// Health is the state of a Transport.
type Health struct {
	// State is "ok", "degraded" (the last renewals failed, the
	// certificate is still valid) or "expired".
	State       string    `json:"state"`
	NotAfter    time.Time `json:"not_after"`
	NextRenewal time.Time `json:"next_renewal"`
	LastRenewal time.Time `json:"last_renewal,omitzero"`
	Renewals    int       `json:"renewals"`
	// Failures counts renewal failures since the last success.
	Failures  int    `json:"failures"`
	LastError string `json:"last_error,omitempty"`
	// RevocationUnknown counts peer checks that no source answered.
	RevocationUnknown int64 `json:"revocation_unknown"`
}

// Transport is one service's identity with its renewal. Its methods are
// safe for concurrent use.
type Transport struct {
	cfg     Config
	now     func() time.Time
	checker *checker
	caCert  *x509.Certificate // the issuing CA, sent after the leaf
	issuer  *client.Client    // authsign / sign
	force   chan chan error
	// wake tells Run that the schedule moved earlier.
	wake chan struct{}

	cur atomic.Pointer[tls.Certificate]

	mu        sync.Mutex
	issuedAt  time.Time
	next      time.Time
	nextARI   time.Time // the next renewal-info check
	last      time.Time
	renewals  int
	failures  int
	lastError string
	running   atomic.Bool
}

// New obtains the first certificate and returns the Transport; call Run
// to keep it renewed. Errors: an incomplete configuration, the CA
// unreachable or refusing the request.
func New(ctx context.Context, cfg Config) (*Transport, error) {
	if cfg.CA.URL == "" {
		return nil, errors.New("transport: no CA URL")
	}
	if cfg.Identity.CN == "" && len(cfg.Identity.Hosts) == 0 {
		return nil, errors.New("transport: the identity names nothing (no CN, no hosts)")
	}
	if len(cfg.CA.AuthKey) == 0 && cfg.CA.Bootstrap == nil {
		return nil, errors.New("transport: neither an auth key nor a bootstrap certificate to get the first certificate")
	}
	if cfg.RenewAt <= 0 || cfg.RenewAt >= 1 {
		cfg.RenewAt = DefaultRenewAt
	}
	switch {
	case cfg.Jitter == 0:
		cfg.Jitter = DefaultJitter
	case cfg.Jitter < 0:
		cfg.Jitter = 0
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.Identity.Key == nil {
		cfg.Identity.Key = csr.DefaultKeyRequest()
	}
	t := &Transport{cfg: cfg, now: cfg.now, force: make(chan chan error), wake: make(chan struct{}, 1)}
	if t.now == nil {
		t.now = time.Now
	}
	t.checker = newChecker(cfg.Revocation, t.now)
	tc := &tls.Config{RootCAs: cfg.CA.RootCAs}
	if cfg.CA.Bootstrap != nil {
		tc.Certificates = []tls.Certificate{*cfg.CA.Bootstrap}
	}
	var err error
	if t.issuer, err = client.New(cfg.CA.URL, tc); err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	resume := usable(cfg.Initial, t.now())
	info, err := t.issuer.Info(ctx, cfg.CA.Label, cfg.CA.Profile)
	switch {
	case err == nil:
		if t.caCert, err = parseCert([]byte(info.Certificate)); err != nil {
			return nil, fmt.Errorf("transport: the CA's certificate: %w", err)
		}
	case resume && len(cfg.Initial.Certificate) > 1:
		if t.caCert, err = x509.ParseCertificate(cfg.Initial.Certificate[1]); err != nil {
			return nil, fmt.Errorf("transport: the initial certificate's chain: %w", err)
		}
	case !resume:
		return nil, fmt.Errorf("transport: the CA's certificate: %w", err)
	}
	if resume {
		t.cur.Store(cfg.Initial)
		t.mu.Lock()
		t.issuedAt = t.now()
		t.next = t.scheduleLocked(cfg.Initial.Leaf)
		t.nextARI = t.issuedAt.Add(minARIPoll)
		t.mu.Unlock()
		return t, nil
	}
	if err := t.obtain(ctx, false); err != nil {
		return nil, err
	}
	return t, nil
}

// Run renews the certificate until ctx ends, retrying failures with
// backoff while the current certificate stays in use. It returns ctx's
// error. Run it once.
func (t *Transport) Run(ctx context.Context) error {
	if !t.running.CompareAndSwap(false, true) {
		return errors.New("transport: Run called twice")
	}
	defer t.running.Store(false)
	for {
		t.mu.Lock()
		wake, ari := t.next, false
		if !t.nextARI.IsZero() && t.nextARI.Before(wake) {
			wake, ari = t.nextARI, true
		}
		t.mu.Unlock()
		timer := time.NewTimer(max(wake.Sub(t.now()), 0))
		var reply chan error
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case reply = <-t.force:
			timer.Stop()
		case <-t.wake:
			timer.Stop()
			continue
		case <-timer.C:
			if ari {
				_, _ = t.CheckRenewalInfo(ctx) // a failure is retried later; renewal keeps its schedule
				continue
			}
		}
		err := t.renew(ctx)
		if reply != nil {
			reply <- err
		}
	}
}

// RenewNow renews at once (through Run when it is running) and returns
// the renewal's error.
func (t *Transport) RenewNow(ctx context.Context) error {
	if !t.running.Load() {
		return t.renew(ctx)
	}
	reply := make(chan error, 1)
	select {
	case t.force <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// renew makes one renewal attempt and schedules the next one.
func (t *Transport) renew(ctx context.Context) error {
	// A certificate that expired cannot renew itself: start over with the
	// bootstrap credential. A revoked one is refused by pkid and stays
	// refused: revocation must not be undone by the service itself.
	expired := !t.now().Before(t.cur.Load().Leaf.NotAfter)
	err := t.obtain(ctx, !expired)
	if err == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures++
	t.lastError = err.Error()
	backoff := t.cfg.MinBackoff << min(t.failures-1, 30)
	if backoff <= 0 || backoff > t.cfg.MaxBackoff {
		backoff = t.cfg.MaxBackoff
	}
	t.next = t.now().Add(backoff)
	return err
}

// obtain gets a certificate (renew: through the renew endpoint with the
// current one) and puts it in use.
func (t *Transport) obtain(ctx context.Context, renew bool) error {
	if t.caCert == nil {
		// Resumed while the CA was unreachable, without a chain: files and
		// handshakes need the CA certificate, so fetch it now.
		info, err := t.issuer.Info(ctx, t.cfg.CA.Label, t.cfg.CA.Profile)
		if err != nil {
			return fmt.Errorf("transport: the CA's certificate: %w", err)
		}
		if t.caCert, err = parseCert([]byte(info.Certificate)); err != nil {
			return fmt.Errorf("transport: the CA's certificate: %w", err)
		}
	}
	key, err := t.cfg.Identity.Key.Generate()
	if err != nil {
		return fmt.Errorf("transport: generating the key: %w", err)
	}
	csrPEM, err := csr.Generate(&csr.Request{CN: t.cfg.Identity.CN, Hosts: t.cfg.Identity.Hosts, KeyRequest: t.cfg.Identity.Key}, key)
	if err != nil {
		return fmt.Errorf("transport: CSR: %w", err)
	}
	var certPEM string
	switch {
	case renew:
		certPEM, err = t.renewCall(ctx, csrPEM)
	case len(t.cfg.CA.AuthKey) > 0:
		certPEM, err = t.issuer.AuthSign(ctx, t.signRequest(csrPEM), t.cfg.CA.AuthKey)
	default:
		certPEM, err = t.issuer.Sign(ctx, t.signRequest(csrPEM))
	}
	if err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	leaf, err := parseCert([]byte(certPEM))
	if err != nil {
		return fmt.Errorf("transport: the issued certificate: %w", err)
	}
	if pk, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(key.Public()) {
		return errors.New("transport: the issued certificate is not for the generated key")
	}
	chain := [][]byte{leaf.Raw}
	if !isSelfSigned(t.caCert) {
		chain = append(chain, t.caCert.Raw)
	}
	tc := &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}
	if staple := t.staple(ctx, leaf); staple != nil {
		tc.OCSPStaple = staple
	}
	if t.cfg.OnRenew != nil {
		if err := t.cfg.OnRenew(tc); err != nil {
			return fmt.Errorf("transport: after renewal: %w", err)
		}
	}
	now := t.now()
	t.cur.Store(tc)
	t.mu.Lock()
	t.issuedAt = now
	if leaf.NotBefore.After(now) {
		t.issuedAt = leaf.NotBefore
	}
	t.next = t.scheduleLocked(leaf)
	t.nextARI = now.Add(min(max(leaf.NotAfter.Sub(now)/4, minARIPoll), maxARIPoll))
	if renew || t.renewals > 0 || !t.last.IsZero() {
		t.renewals++
	}
	t.last, t.failures, t.lastError = now, 0, ""
	t.mu.Unlock()
	return nil
}

// scheduleLocked is the renewal time of leaf: RenewAt of its lifetime from
// when it was received (profiles backdate NotBefore), ± Jitter.
func (t *Transport) scheduleLocked(leaf *x509.Certificate) time.Time {
	life := leaf.NotAfter.Sub(t.issuedAt)
	frac := t.cfg.RenewAt + (rand.Float64()*2-1)*t.cfg.Jitter
	frac = min(max(frac, 0.05), 0.95)
	return t.issuedAt.Add(time.Duration(float64(life) * frac))
}

// staple fetches an OCSP response for the own certificate (best effort).
func (t *Transport) staple(ctx context.Context, leaf *x509.Certificate) []byte {
	if len(leaf.OCSPServer) == 0 || t.caCert == nil || t.cfg.Revocation.Mode == RevocationOff {
		return nil
	}
	req, err := ocspRequest(leaf, t.caCert)
	if err != nil {
		return nil
	}
	body, err := t.checker.fetch(ctx, http.MethodPost, leaf.OCSPServer[0], req, "application/ocsp-request")
	if err != nil {
		return nil
	}
	if _, err := t.checker.parseOCSP(body, leaf, t.caCert, t.now()); err != nil {
		return nil
	}
	return body
}

func (t *Transport) signRequest(csrPEM []byte) client.SignRequest {
	return client.SignRequest{Request: string(csrPEM), Hosts: t.cfg.Identity.Hosts, Profile: t.cfg.CA.Profile, Label: t.cfg.CA.Label}
}

// renewCall posts to pkid's renew endpoint with the current certificate
// as the TLS client certificate. A fresh connection each time: one opened
// with an earlier certificate must not authenticate this request.
func (t *Transport) renewCall(ctx context.Context, csrPEM []byte) (string, error) {
	cur := t.cur.Load()
	c, err := client.New(t.cfg.CA.URL, &tls.Config{RootCAs: t.cfg.CA.RootCAs, Certificates: []tls.Certificate{*cur}})
	if err != nil {
		return "", err
	}
	defer c.CloseIdle()
	return c.Renew(ctx, csrPEM)
}

// Certificate is the certificate in use.
func (t *Transport) Certificate() *tls.Certificate { return t.cur.Load() }

// Health reports the renewal state.
func (t *Transport) Health() Health {
	leaf := t.cur.Load().Leaf
	t.mu.Lock()
	defer t.mu.Unlock()
	h := Health{NotAfter: leaf.NotAfter, NextRenewal: t.next, LastRenewal: t.last, Renewals: t.renewals,
		Failures: t.failures, LastError: t.lastError, RevocationUnknown: t.checker.unknownCount(), State: "ok"}
	switch {
	case !t.now().Before(leaf.NotAfter):
		h.State = "expired"
	case t.failures > 0:
		h.State = "degraded"
	}
	return h
}

// HealthHandler serves Health as JSON: 200 while the certificate is
// valid (ok or degraded), 503 once it expired.
func (t *Transport) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := t.Health()
		w.Header().Set("Content-Type", "application/json")
		if h.State == "expired" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
}

func parseCert(p []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(p)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func isSelfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil
}

// usable reports whether c can be resumed: a leaf with a key, valid for
// more than another tenth of its lifetime.
func usable(c *tls.Certificate, now time.Time) bool {
	if c == nil || len(c.Certificate) == 0 || c.PrivateKey == nil {
		return false
	}
	if c.Leaf == nil {
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return false
		}
		c.Leaf = leaf
	}
	life := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)
	return now.After(c.Leaf.NotBefore) && now.Add(life/10).Before(c.Leaf.NotAfter)
}
