package trustpool_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/core/trustpool"
	"github.com/pkid/pkid/sdk"
)

// memTrust is a trust source whose content the test changes.
type memTrust struct {
	mu        sync.Mutex
	certs     []sdk.TrustCert
	platforms []sdk.Platform
	err       error
	watch     chan struct{}
}

func (m *memTrust) Close() error { return nil }
func (m *memTrust) Certificates(ctx context.Context, fn func(*sdk.TrustCert) error) error {
	m.mu.Lock()
	certs, err := m.certs, m.err
	m.mu.Unlock()
	if err != nil {
		return err
	}
	for i := range certs {
		c := certs[i]
		if err := fn(&c); err != nil {
			return err
		}
	}
	return nil
}
func (m *memTrust) Platforms(context.Context) ([]sdk.Platform, error) { return m.platforms, nil }
func (m *memTrust) Watch(ctx context.Context) (<-chan struct{}, error) {
	if m.watch == nil {
		return nil, nil
	}
	out := make(chan struct{})
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case <-m.watch:
				select {
				case out <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func (m *memTrust) set(certs []sdk.TrustCert, err error) {
	m.mu.Lock()
	m.certs, m.err = certs, err
	m.mu.Unlock()
}

func root(t *testing.T, cn string) sdk.TrustCert {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return sdk.TrustCert{DER: der, Root: true, Source: cn}
}

func TestBuildCombines(t *testing.T) {
	a := &memTrust{certs: []sdk.TrustCert{root(t, "A")}, platforms: []sdk.Platform{{Name: "p1", Weight: 1, AllRoots: true}}}
	b := &memTrust{certs: []sdk.TrustCert{root(t, "B"), root(t, "C")}, platforms: []sdk.Platform{{Name: "p1", Weight: 9, AllRoots: true}, {Name: "p2", Weight: 2, AllRoots: true}}}
	p, err := trustpool.Build(t.Context(), map[string]sdk.Trust{"a": a, "b": b})
	if err != nil {
		t.Fatal(err)
	}
	if r, i := p.Len(); r != 3 || i != 0 {
		t.Errorf("pool holds %d roots, %d intermediates; want 3, 0", r, i)
	}
	if got := strings.Join(p.Platforms(), ","); got != "p1,p2" {
		t.Errorf("platforms %s, want p1 (once), p2", got)
	}
	b.set(nil, errors.New("disk gone"))
	if _, err := trustpool.Build(t.Context(), map[string]sdk.Trust{"a": a, "b": b}); err == nil || !strings.Contains(err.Error(), `trust "b": disk gone`) {
		t.Errorf("Build with a failing source: %v", err)
	}
}

func TestLiveRebuilds(t *testing.T) {
	src := &memTrust{certs: []sdk.TrustCert{root(t, "A")}, watch: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	var logMu sync.Mutex
	var logs []string
	l, err := trustpool.Start(ctx, map[string]sdk.Trust{"s": src}, func(f string, a ...any) {
		logMu.Lock()
		logs = append(logs, f)
		logMu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	waitRoots := func(n int) bool {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if r, _ := l.Pool().Len(); r == n {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	}
	src.set([]sdk.TrustCert{root(t, "A"), root(t, "B")}, nil)
	src.watch <- struct{}{}
	if !waitRoots(2) {
		t.Fatal("the pool was not rebuilt after a change")
	}
	// A failing rebuild keeps the previous pool.
	src.set(nil, errors.New("half-written"))
	src.watch <- struct{}{}
	time.Sleep(100 * time.Millisecond)
	if r, _ := l.Pool().Len(); r != 2 {
		t.Errorf("a failed rebuild changed the pool to %d roots", r)
	}
	cancel()
	l.Wait()
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(strings.Join(logs, "\n"), "keeping the previous one") {
		t.Errorf("logs %q do not report the failed rebuild", logs)
	}
}
