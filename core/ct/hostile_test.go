package ct_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/internal/ctlogtest"
)

// precertChain issues nothing: it captures the chain an issuance submits
// (through a recording SCTSource that then fails).
type captureSource struct{ chain [][]byte }

func (c *captureSource) SCTs(_ context.Context, _ *config.CTPolicy, chain [][]byte) (*ca.SCTList, error) {
	c.chain = chain
	return nil, context.Canceled
}

func precertChain(t testing.TB) [][]byte {
	t.Helper()
	cs := &captureSource{}
	iss := issuer(t, policy(1, 1, time.Second, 0, cfgLog("http://127.0.0.1:1", nil, "")), cs, nil)
	if _, err := iss.Sign(context.Background(), ca.SignRequest{CSR: leafCSR(t), Profile: "server"}); err == nil {
		t.Fatal("capture source let issuance through")
	}
	return cs.chain
}

func fakePolicy(t testing.TB, timeout time.Duration, retries int, fs ...*ctlogtest.FakeLog) *ct.Policy {
	t.Helper()
	var logs []*ct.Log
	for i, f := range fs {
		l, err := ct.NewLog(f.URL, f.KeyDER, string(rune('A'+i)), time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	return &ct.Policy{Logs: logs, RequiredSCTs: 1, RequiredOperators: 1, Timeout: timeout, Retries: retries}
}

// TestHostileLogs: each misbehaving log alone fails a 1-of-1 policy with a
// clear reason, within the per-log timeout, and reading at most
// MaxResponseBytes; an honest fake passes (the control).
func TestHostileLogs(t *testing.T) {
	chain := precertChain(t)
	for _, tc := range []struct {
		mode ctlogtest.Mode
		want string // "" : success
	}{
		{ctlogtest.Honest, ""},
		{ctlogtest.Reject, "HTTP 400 Bad Request"},
		{ctlogtest.Unavailable, "HTTP 503"},
		{ctlogtest.Hang, "no answer within 200ms"},
		{ctlogtest.Garbage, "malformed answer"},
		{ctlogtest.Oversized, "answer larger than 16384 bytes"},
		{ctlogtest.BadSignature, "SCT signature does not verify"},
		{ctlogtest.WrongLogID, "SCT log ID is not this log's"},
	} {
		f := ctlogtest.NewFakeLog(tc.mode)
		defer f.Close()
		t.Run(f.URL+"/"+modeName(tc.mode), func(t *testing.T) {
			sub := ct.NewSubmitter(ct.Options{})
			start := time.Now()
			res, err := sub.Submit(context.Background(), fakePolicy(t, 200*time.Millisecond, 0, f), ct.Request{Chain: chain, Precert: true})
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %s", took)
			}
			if tc.want == "" {
				if err != nil || len(res) != 1 || res[0].SCT == nil {
					t.Fatalf("honest fake: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), f.URL) {
				t.Errorf("error %v, want %q naming %s", err, tc.want, f.URL)
			}
		})
	}
}

func modeName(m ctlogtest.Mode) string {
	return [...]string{"honest", "reject", "hang", "garbage", "oversized", "bad-signature", "wrong-log-id", "unavailable"}[m]
}

// TestRetry: a log answering 503 twice succeeds on the third attempt with
// two retries, and fails with one, saying how many attempts were made.
func TestRetry(t *testing.T) {
	chain := precertChain(t)
	f := ctlogtest.NewFakeLog(ctlogtest.Honest)
	defer f.Close()
	sub := ct.NewSubmitter(ct.Options{Backoff: 10 * time.Millisecond})
	f.FailFirst.Store(2)
	if _, err := sub.Submit(context.Background(), fakePolicy(t, time.Second, 2, f), ct.Request{Chain: chain, Precert: true}); err != nil {
		t.Fatalf("2 retries after 2 failures: %v", err)
	}
	if n := f.Requests.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	f.FailFirst.Store(2)
	_, err := sub.Submit(context.Background(), fakePolicy(t, time.Second, 1, f), ct.Request{Chain: chain, Precert: true})
	if err == nil || !strings.Contains(err.Error(), "2 attempts: HTTP 503") {
		t.Errorf("1 retry after 2 failures: %v", err)
	}
	// A 4xx is not retried.
	f.Mode.Store(int32(ctlogtest.Reject))
	before := f.Requests.Load()
	sub.Submit(context.Background(), fakePolicy(t, time.Second, 3, f), ct.Request{Chain: chain, Precert: true})
	if n := f.Requests.Load() - before; n != 1 {
		t.Errorf("a rejection was retried: %d requests", n)
	}
}

// TestCircuitBreaker: after BreakerThreshold failed submissions a log is
// skipped (not contacted) until the cooldown has passed; then one trial
// that succeeds closes the circuit.
func TestCircuitBreaker(t *testing.T) {
	chain := precertChain(t)
	f := ctlogtest.NewFakeLog(ctlogtest.Unavailable)
	defer f.Close()
	now := time.Now()
	sub := ct.NewSubmitter(ct.Options{BreakerThreshold: 2, BreakerCooldown: time.Minute, Now: func() time.Time { return now }})
	p := fakePolicy(t, time.Second, 0, f)
	submit := func() error {
		_, err := sub.Submit(context.Background(), p, ct.Request{Chain: chain, Precert: true})
		return err
	}
	submit()
	submit()
	if n := f.Requests.Load(); n != 2 {
		t.Fatalf("%d requests", n)
	}
	if err := submit(); err == nil || !strings.Contains(err.Error(), "circuit open") {
		t.Errorf("third submission: %v, want circuit open", err)
	}
	if n := f.Requests.Load(); n != 2 {
		t.Errorf("an open circuit contacted the log: %d requests", n)
	}
	now = now.Add(2 * time.Minute)
	f.Mode.Store(int32(ctlogtest.Honest))
	if err := submit(); err != nil {
		t.Errorf("half-open trial: %v", err)
	}
	if err := submit(); err != nil {
		t.Errorf("closed again: %v", err)
	}
}

// TestBadInputs: chains and keys a caller could get wrong.
func TestBadInputs(t *testing.T) {
	sub := ct.NewSubmitter(ct.Options{})
	p := &ct.Policy{RequiredSCTs: 1, RequiredOperators: 1, Timeout: time.Second}
	if _, err := sub.Submit(context.Background(), p, ct.Request{Chain: [][]byte{{1, 2, 3}}}); err == nil {
		t.Error("one-element chain accepted")
	}
	if _, err := sub.Submit(context.Background(), p, ct.Request{Chain: [][]byte{{0x30, 0x03, 1, 2, 3}, {0x30}}}); err == nil || !strings.Contains(err.Error(), "chain[0]") {
		t.Errorf("garbage chain: %v", err)
	}
	chain := precertChain(t)
	if _, err := sub.Submit(context.Background(), p, ct.Request{Chain: chain, Precert: false}); err == nil || !strings.Contains(err.Error(), "precertificate") {
		t.Errorf("precertificate sent as a certificate: %v", err)
	}
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k384.PublicKey)
	if _, err := ct.NewLog("https://log.example", der, "", time.Time{}, time.Time{}); err == nil || !strings.Contains(err.Error(), "P-384") {
		t.Errorf("P-384 log key: %v", err)
	}
	if _, err := ct.NewLog("https://log.example", []byte("not a key"), "", time.Time{}, time.Time{}); err == nil {
		t.Error("garbage log key accepted")
	}
}
