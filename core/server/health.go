package server

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pkid/pkid/sdk"
)

// healthTimeout bounds each probe.
const healthTimeout = 2 * time.Second

// HealthCacheTTL is how long CachedCheck reuses a probe's result: floods of
// /health must not turn into floods of HSM signatures.
const HealthCacheTTL = 5 * time.Second

// Part states in health's "parts".
const (
	partOK     = "ok"
	partLocked = "locked" // sdk.ErrLocked: waiting to be unlocked, not a fault
	partFailed = "failed"
)

// healthResult is health's result. Parts (every part's state) appears only
// when some part is not ok, so a healthy daemon answers exactly CFSSL's
// {"healthy":true}.
type healthResult struct {
	Healthy bool              `json:"healthy"`
	Parts   map[string]string `json:"parts,omitempty"`
}

// errStop ends the store probe after one record.
var errStop = errors.New("stop")

// health serves /health (docs/differences-from-cfssl.md, "Health names what
// is wrong"): 200 {"healthy":true}, or 503 naming the
// failing parts. A locked part (sdk.ErrLocked) is reported but keeps the
// daemon healthy: it waits for operators, restarting it would not help.
func (s *Server) health(c *call) (*reply, error) {
	parts, failing := s.checkHealth(c.r.Context())
	res := healthResult{Healthy: len(failing) == 0}
	for _, st := range parts {
		if st != partOK {
			res.Parts = parts
			break
		}
	}
	if len(failing) > 0 {
		return &reply{
			status: http.StatusServiceUnavailable,
			result: res,
			err:    &message{Code: http.StatusServiceUnavailable, Message: strings.Join(failing, ", ") + " unavailable"},
		}, nil
	}
	return &reply{result: res}, nil
}

// checkHealth probes every part at once and returns each part's state and
// the failing parts, sorted. Parts: "certstore" (a one-record listing),
// "ca.LABEL" (the CA certificate is currently valid, then the check of that
// name in Options.HealthChecks, e.g. a test signature), and every other
// named check (e.g. "plugin.keystore.file"). Causes go to the log.
func (s *Server) checkHealth(ctx context.Context) (map[string]string, []string) {
	checks := map[string]func(context.Context) error{}
	for name, fn := range s.opts.HealthChecks {
		checks[name] = fn
	}
	if s.opts.Store != nil {
		store := s.opts.Store
		checks["certstore"] = func(ctx context.Context) error {
			err := store.List(ctx, sdk.ListFilter{Limit: 1}, func(*sdk.CertRecord) error { return errStop })
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	now := time.Now()
	for _, label := range s.opts.CAs.Labels() {
		cert := s.opts.CAs.CAs[label].Certificate()
		if cert == nil || now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
			checks["ca."+label] = func(context.Context) error {
				return errors.New("signer unavailable: its certificate is not currently valid")
			}
		}
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		parts = make(map[string]string, len(checks))
	)
	for name, fn := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, healthTimeout)
			defer cancel()
			err := fn(ctx)
			st := partOK
			switch {
			case errors.Is(err, sdk.ErrLocked):
				st = partLocked
				s.log.Info("health: part locked", "part", name, "error", err)
			case err != nil:
				st = partFailed
				s.log.Warn("health: part failed", "part", name, "error", err)
			}
			mu.Lock()
			parts[name] = st
			mu.Unlock()
		})
	}
	wg.Wait()
	var failing []string
	for name, st := range parts {
		if st == partFailed {
			failing = append(failing, name)
		}
	}
	slices.Sort(failing)
	return parts, failing
}

// CachedCheck wraps a probe for health: concurrent callers share one run
// (single flight, with its own healthTimeout, so a caller giving up does
// not cancel it for the others), and its result is reused for ttl.
func CachedCheck(ttl time.Duration, check func(context.Context) error) func(context.Context) error {
	var (
		mu      sync.Mutex
		at      time.Time
		last    error
		running chan struct{}
	)
	run := func(done chan struct{}) {
		ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
		err := check(ctx)
		cancel()
		mu.Lock()
		last, at, running = err, time.Now(), nil
		mu.Unlock()
		close(done)
	}
	return func(ctx context.Context) error {
		mu.Lock()
		if !at.IsZero() && time.Since(at) < ttl {
			err := last
			mu.Unlock()
			return err
		}
		done := running
		if done == nil {
			done = make(chan struct{})
			running = done
			go run(done)
		}
		mu.Unlock()
		select {
		case <-done:
			mu.Lock()
			defer mu.Unlock()
			return last
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// healthMessage is what KeyProbe signs.
var healthMessage = []byte("pkid health probe")

// KeyProbe returns a health probe for a CA key: it signs a fixed message
// through the keystore and verifies the signature with the CA
// certificate's public key, so a keystore that answers but cannot sign with
// the CA's key (corrupt key file, HSM session lost, key replaced) fails.
// Errors: the keystore's (sdk.ErrLocked when it is locked), or a
// verification failure.
func KeyProbe(ks sdk.KeyStore, keyID string, cert *x509.Certificate) func(context.Context) error {
	return func(ctx context.Context) error {
		if ks == nil || cert == nil {
			return errors.New("no keystore or certificate")
		}
		sum := sha256.Sum256(healthMessage)
		req := sdk.SignRequest{KeyID: keyID, Digest: sum[:], Hash: crypto.SHA256}
		if _, ok := cert.PublicKey.(ed25519.PublicKey); ok {
			req.Digest, req.Hash = healthMessage, 0 // Ed25519 signs the message itself
		}
		sig, err := ks.Sign(ctx, req)
		if err != nil {
			return fmt.Errorf("key %q: test signature: %w", keyID, err)
		}
		ok := false
		switch pub := cert.PublicKey.(type) {
		case *ecdsa.PublicKey:
			ok = ecdsa.VerifyASN1(pub, sum[:], sig)
		case *rsa.PublicKey:
			ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
		case ed25519.PublicKey:
			ok = ed25519.Verify(pub, healthMessage, sig)
		default:
			return fmt.Errorf("key %q: unsupported CA public key type %T", keyID, pub)
		}
		if !ok {
			return fmt.Errorf("key %q: the test signature does not verify with the CA certificate's public key", keyID)
		}
		return nil
	}
}
