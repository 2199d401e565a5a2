package server

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/sdk"
)

// lockedBuffer is a log sink the handler and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A revocation the store recorded is a success even when re-signing its
// OCSP response fails afterwards: the failure is logged with the
// certificate (the AKI resolved from the label), and a retry with the
// same reason runs the publisher again to repair it.
func TestRevokePublishFailureIsLogged(t *testing.T) {
	var logs lockedBuffer
	calls := 0
	e := newEnv(t, plainConfig, func(o *Options) {
		o.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
		o.OnRevoke = func(context.Context, sdk.RevokeRequest) error { calls++; return errors.New("keystore gone") }
	})
	r := e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, "pf.example", "pf.example"))})
	wantOK(t, r)
	c := certOf(t, r, "certificate")
	serial, aki := c.SerialNumber.String(), hex.EncodeToString(c.AuthorityKeyId)
	for range 2 {
		wantOK(t, e.post(t, "revoke", `{"serial":"`+serial+`","label":"primary","reason":"keyCompromise"}`))
	}
	if rec, err := e.store.Get(t.Context(), serial, aki); err != nil || rec.Status != sdk.StatusRevoked || rec.RevocationReason != 1 {
		t.Fatalf("record %+v %v", rec, err)
	}
	if calls != 2 {
		t.Errorf("publisher ran %d times, want 2 (the retry repairs)", calls)
	}
	if got := logs.String(); !strings.Contains(got, "after revoke") || !strings.Contains(got, "serial="+serial) ||
		!strings.Contains(got, "aki="+aki) || !strings.Contains(got, "keystore gone") {
		t.Errorf("log does not report the failed re-sign with the certificate:\n%s", got)
	}
}
