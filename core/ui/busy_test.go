package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
)

// Pages are built a bounded number at a time: a request that finds every
// slot taken waits within its time bound, then gets 503 with Retry-After.
func TestBoundedConcurrency(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h, err := New(Options{
		CAs:           &authority.Set{CAs: map[string]*ca.Issuer{}},
		Access:        Access{Loopback: true},
		MaxConcurrent: 1,
		Health: map[string]func(context.Context) error{"slow": func(ctx context.Context) error {
			entered <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func(ctx context.Context) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/ui/", nil).WithContext(ctx)
		r.RemoteAddr, r.Host = "127.0.0.1:5000", "localhost"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- get(context.Background()) }()
	select { // the first request holds the only slot
	case <-entered:
	case w := <-first:
		t.Fatalf("the first request did not reach its page: %d %s", w.Code, w.Body)
	case <-time.After(10 * time.Second):
		t.Fatal("the first request did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	w := get(ctx)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "busy") || time.Since(start) > 5*time.Second {
		t.Errorf("second request: %d %q after %v", w.Code, w.Body.String(), time.Since(start))
	}
	close(release)
	if w := <-first; w.Code != http.StatusOK {
		t.Errorf("first request: %d", w.Code)
	}
	go func() { <-entered }()
	if w := get(context.Background()); w.Code != http.StatusOK {
		t.Errorf("after the slot is free: %d", w.Code)
	}
}
