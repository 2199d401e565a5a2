package server

import (
	"crypto"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/config"
)

// Issue 11 item 5: at most limits.MaxKeyGenerations keys are generated at
// once; beyond that newkey, newcert and init_ca answer 429 with
// Retry-After at once instead of queueing. Generations are held by a hook,
// so the test does not depend on timing.
func TestKeyGenerationBound(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	s, err := New(Options{CAs: e.set, Store: e.store})
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}, 16), make(chan struct{})
	s.genKey = func(kr *csr.KeyRequest) (crypto.Signer, error) {
		started <- struct{}{}
		<-release
		return kr.Generate()
	}
	e.srv = newTestServer(t, s)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the server's Close, which waits for handlers
	// A queueing server would hold the excess requests until release:
	// the client's timeout turns that into a failure, not a hang.
	excess := func(endpoint, body string) (*http.Response, []byte) {
		t.Helper()
		hc := &http.Client{Timeout: 20 * time.Second}
		resp, err := hc.Post(e.srv.URL+BasePath+endpoint, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s beyond the bound: %v (queued instead of refused?)", endpoint, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, raw
	}

	var wg sync.WaitGroup
	held := make([]*response, config.DefaultMaxKeyGenerations)
	for i := range held {
		wg.Add(1)
		go func() {
			defer wg.Done()
			held[i] = e.post(t, "newkey", `{"CN":"held.example"}`)
		}()
		<-started
	}
	for _, tc := range []struct{ endpoint, body string }{
		{"newkey", `{"CN":"k.example"}`},
		{"newcert", `{"request":{"CN":"n.example","hosts":["n.example"]}}`},
		{"init_ca", `{"CN":"Root","key":{"algo":"ecdsa","size":256}}`},
	} {
		resp, raw := excess(tc.endpoint, tc.body)
		r := &response{Status: resp.StatusCode, Raw: raw}
		if err := json.Unmarshal(raw, r); err != nil {
			t.Fatalf("%s: %v: %s", tc.endpoint, err, raw)
		}
		wantError(t, r, http.StatusTooManyRequests, http.StatusTooManyRequests, "key generations")
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("%s: 429 with Retry-After %q", tc.endpoint, resp.Header.Get("Retry-After"))
		}
	}
	// Requests that generate nothing are not held up.
	wantOK(t, e.post(t, "info", `{}`))
	free()
	wg.Wait()
	for _, r := range held {
		wantOK(t, r)
	}
	// The slots are free again.
	wantOK(t, e.post(t, "newkey", `{"CN":"after.example"}`))
}

// RSA keys above limits.MaxRSABits are refused before any work (default
// 4096: an RSA-8192 generation costs tens of seconds of CPU).
func TestKeyGenerationRSACeiling(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits config.Limits
		body   string
		want   string
	}{
		{"default newkey", config.Limits{}, `{"CN":"x","key":{"algo":"rsa","size":8192}}`, "4096"},
		{"configured newkey", config.Limits{MaxRSABits: 2048}, `{"CN":"x","key":{"algo":"rsa","size":3072}}`, "2048"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, plainConfig, func(o *Options) { o.Limits = tc.limits })
			wantError(t, e.post(t, "newkey", tc.body), 400, codeKeyGeneration, tc.want)
			wantError(t, e.post(t, "init_ca", tc.body), 400, codeKeyGeneration, tc.want)
			wantError(t, e.post(t, "newcert", `{"request":`+tc.body+`}`), 400, codeKeyGeneration, tc.want)
		})
	}
	e := newEnv(t, plainConfig, func(o *Options) { o.Limits = config.Limits{MaxRSABits: 2048} })
	wantOK(t, e.post(t, "newkey", `{"CN":"x","key":{"algo":"rsa","size":2048}}`))
}
