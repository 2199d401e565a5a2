package plugintest

import (
	"context"
	"crypto/x509"
	"errors"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// TestTrust runs the trust-source conformance suite. newTrust must return a
// configured source holding at least one root, and arrange its Close
// (t.Cleanup). Subtests may call the source concurrently.
func TestTrust(t *testing.T, newTrust func(t *testing.T) sdk.Trust) {
	t.Run("Certificates", func(t *testing.T) { trustCertificates(t, newTrust(t)) })
	t.Run("StopOnError", func(t *testing.T) { trustStop(t, newTrust(t)) })
	t.Run("Cancelled", func(t *testing.T) { trustCancelled(t, newTrust(t)) })
	t.Run("Platforms", func(t *testing.T) { trustPlatforms(t, newTrust(t)) })
	t.Run("Watch", func(t *testing.T) { trustWatch(t, newTrust(t)) })
	t.Run("Concurrent", func(t *testing.T) { trustConcurrent(t, newTrust(t)) })
}

// trustAll lists the source's certificates, checking each.
func trustAll(t *testing.T, tr sdk.Trust) []sdk.TrustCert {
	t.Helper()
	var out []sdk.TrustCert
	err := tr.Certificates(t.Context(), func(c *sdk.TrustCert) error {
		out = append(out, sdk.TrustCert{DER: slices.Clone(c.DER), Root: c.Root, Source: c.Source})
		return nil
	})
	if err != nil {
		t.Fatalf("Certificates: %v", err)
	}
	return out
}

func trustCertificates(t *testing.T, tr sdk.Trust) {
	roots := 0
	for i, c := range trustAll(t, tr) {
		cert, err := x509.ParseCertificate(c.DER)
		if err != nil {
			t.Errorf("certificate %d (%s) does not parse: %v", i, c.Source, err)
			continue
		}
		if !cert.IsCA {
			t.Errorf("certificate %d (%s, %s) is not a CA certificate", i, c.Source, cert.Subject)
		}
		if c.Source == "" {
			t.Errorf("certificate %d (%s) has no Source", i, cert.Subject)
		}
		if c.Root {
			roots++
		}
	}
	if roots == 0 {
		t.Error("the source offers no root")
	}
}

func trustStop(t *testing.T, tr sdk.Trust) {
	stop := errors.New("kit: stop")
	calls := 0
	err := tr.Certificates(t.Context(), func(*sdk.TrustCert) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Certificates with a failing callback: %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func trustCancelled(t *testing.T, tr sdk.Trust) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := tr.Certificates(ctx, func(*sdk.TrustCert) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Certificates with a cancelled context: %v, want context.Canceled", err)
	}
}

var sha1Hex = regexp.MustCompile(`^[0-9a-f]{40}$`)

func trustPlatforms(t *testing.T, tr sdk.Trust) {
	ps, err := tr.Platforms(t.Context())
	if err != nil {
		t.Fatalf("Platforms: %v", err)
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if p.Name == "" || seen[p.Name] {
			t.Errorf("platform name %q is empty or used twice", p.Name)
		}
		seen[p.Name] = true
		if p.Weight < 0 {
			t.Errorf("platform %q has weight %d", p.Name, p.Weight)
		}
		switch p.HashAlgo {
		case "", "SHA1", "SHA2":
		default:
			t.Errorf("platform %q hash algorithm %q is not SHA1 or SHA2", p.Name, p.HashAlgo)
		}
		switch p.KeyAlgo {
		case "", "RSA", "ECDSA256", "ECDSA384", "ECDSA521":
		default:
			t.Errorf("platform %q key algorithm %q is not RSA or ECDSA256/384/521", p.Name, p.KeyAlgo)
		}
		if p.AllRoots && len(p.Roots) > 0 {
			t.Errorf("platform %q trusts all roots and lists %d", p.Name, len(p.Roots))
		}
		for _, r := range p.Roots {
			if !sha1Hex.MatchString(r) {
				t.Errorf("platform %q root %q is not a lowercase hex SHA-1", p.Name, r)
			}
		}
	}
}

func trustWatch(t *testing.T, tr sdk.Trust) {
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := tr.Watch(ctx)
	if err != nil {
		cancel()
		t.Fatalf("Watch: %v", err)
	}
	cancel()
	if ch == nil {
		return // a source that never changes
	}
	// Bounded, not a synchronisation: the channel must close once ctx ends.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("Watch's channel is still open 10s after its context ended")
		}
	}
}

func trustConcurrent(t *testing.T, tr sdk.Trust) {
	want := len(trustAll(t, tr))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			if err := tr.Certificates(t.Context(), func(*sdk.TrustCert) error { n++; return nil }); err != nil || n != want {
				t.Errorf("concurrent Certificates: %d certificates, %v; want %d", n, err, want)
			}
		}()
	}
	wg.Wait()
}
