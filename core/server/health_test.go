package server

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// Health reports each part; a locked part is shown as locked but keeps the
// daemon healthy, failing parts are all named.
func TestHealthParts(t *testing.T) {
	locked := func(context.Context) error {
		return fmt.Errorf("keystore \"split\": 2 of 3 delegations: %w", sdk.ErrLocked)
	}
	down := func(context.Context) error { return fmt.Errorf("restarting: %w", sdk.ErrUnavailable) }
	badSig := func(context.Context) error { return errors.New("test signature does not verify") }
	ok := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name      string
		checks    map[string]func(context.Context) error
		status    int
		parts     map[string]string
		inMessage []string
	}{
		{"all ok", map[string]func(context.Context) error{"ca.primary": ok, "plugin.keystore.file": ok}, 200, nil, nil},
		{"locked key", map[string]func(context.Context) error{"ca.primary": locked, "plugin.keystore.file": ok}, 200,
			map[string]string{"ca.primary": "locked", "plugin.keystore.file": "ok", "certstore": "ok"}, nil},
		{"failing process and key", map[string]func(context.Context) error{"ca.secondary": badSig, "plugin.keystore.file": down, "ca.primary": ok}, 503,
			map[string]string{"ca.primary": "ok", "ca.secondary": "failed", "plugin.keystore.file": "failed", "certstore": "ok"},
			[]string{"ca.secondary", "plugin.keystore.file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, plainConfig, func(o *Options) { o.HealthChecks = tc.checks })
			r := e.do(t, http.MethodGet, "health", nil)
			if r.Status != tc.status {
				t.Fatalf("status %d; want %d: %s", r.Status, tc.status, r.Raw)
			}
			var res struct {
				Healthy bool              `json:"healthy"`
				Parts   map[string]string `json:"parts"`
			}
			if err := json.Unmarshal(r.Result, &res); err != nil {
				t.Fatal(err)
			}
			if res.Healthy != (tc.status == 200) {
				t.Errorf("healthy = %v with status %d", res.Healthy, r.Status)
			}
			if fmt.Sprint(res.Parts) != fmt.Sprint(tc.parts) {
				t.Errorf("parts = %v; want %v", res.Parts, tc.parts)
			}
			if tc.parts == nil && string(r.Result) != `{"healthy":true}` {
				t.Errorf("healthy result %s; want exactly CFSSL's {\"healthy\":true}", r.Result)
			}
			for _, want := range tc.inMessage {
				if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, want) {
					t.Errorf("error %v does not name %q", r.Errors, want)
				}
			}
		})
	}
}

// A flood of health requests runs an expensive probe (an HSM signature)
// once: concurrent callers share the run, later ones reuse its result.
func TestCachedCheckSingleFlight(t *testing.T) {
	var runs atomic.Int32
	release := make(chan struct{})
	check := CachedCheck(time.Minute, func(context.Context) error {
		runs.Add(1)
		<-release
		return sdk.ErrLocked
	})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() { errs <- check(context.Background()) })
	}
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond) // wait for the single run to start
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, sdk.ErrLocked) {
			t.Errorf("caller got %v; want the shared result", err)
		}
	}
	if err := check(context.Background()); !errors.Is(err, sdk.ErrLocked) {
		t.Errorf("cached result: %v", err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("probe ran %d times for 33 calls; want 1", n)
	}
	// A short ttl expires: the next call probes again.
	var n atomic.Int32
	short := CachedCheck(time.Nanosecond, func(context.Context) error { n.Add(1); return nil })
	_ = short(context.Background())
	time.Sleep(time.Millisecond)
	_ = short(context.Background())
	if n.Load() != 2 {
		t.Errorf("expired result reused: %d runs; want 2", n.Load())
	}
}

// fakeKeyStore signs with one key; err, when set, is what Sign returns.
type fakeKeyStore struct {
	sdk.KeyStore
	key crypto.Signer
	err error
}

func (f fakeKeyStore) Sign(_ context.Context, req sdk.SignRequest) ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.key.Sign(rand.Reader, req.Digest, req.Hash)
}

func selfSigned(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// KeyProbe signs through the keystore and checks the signature against
// the CA certificate: a keystore signing with another key fails, a locked
// one reports ErrLocked.
func TestKeyProbe(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		ks   sdk.KeyStore
		cert *x509.Certificate
		want func(error) bool
	}{
		{"ecdsa", fakeKeyStore{key: ec}, selfSigned(t, ec), func(err error) bool { return err == nil }},
		{"rsa", fakeKeyStore{key: rk}, selfSigned(t, rk), func(err error) bool { return err == nil }},
		{"ed25519", fakeKeyStore{key: ed}, selfSigned(t, ed), func(err error) bool { return err == nil }},
		{"wrong key", fakeKeyStore{key: other}, selfSigned(t, ec), func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "does not verify")
		}},
		{"locked", fakeKeyStore{err: fmt.Errorf("split: %w", sdk.ErrLocked)}, selfSigned(t, ec), func(err error) bool { return errors.Is(err, sdk.ErrLocked) }},
		{"unavailable", fakeKeyStore{err: sdk.ErrUnavailable}, selfSigned(t, ec), func(err error) bool { return errors.Is(err, sdk.ErrUnavailable) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := KeyProbe(tc.ks, "ca", tc.cert)(context.Background()); !tc.want(err) {
				t.Errorf("KeyProbe: %v", err)
			}
		})
	}
}
