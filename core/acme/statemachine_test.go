package acme_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/core/acme"
	"github.com/pkid/pkid/core/acme/validation"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// gateValidator is a test double of a perspective: it counts calls and
// answers once released.
type gateValidator struct {
	calls   atomic.Int64
	release chan struct{}
	view    validation.View
}

func (g *gateValidator) Validate(ctx context.Context, req validation.Request) validation.View {
	g.calls.Add(1)
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	return g.view
}

// switchTransport sends every request to the current node.
type switchTransport struct {
	mu   sync.Mutex
	host string
}

func (s *switchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	r2 := r.Clone(r.Context())
	r2.URL = &url.URL{Scheme: "http", Host: s.host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	r2.Host = "acme.nodes.test"
	s.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r2)
}

// TestOneValidationAcrossNodes: challenge requests racing on two nodes
// (two servers on one document store) start one validation; a refused
// validation makes the challenge, authorization and order invalid with
// the perspective's problem.
func TestOneValidationAcrossNodes(t *testing.T) {
	docs := plugintest.NewMemDocStore()
	gate := &gateValidator{release: make(chan struct{}), view: validation.View{Perspective: "double", OK: true}}
	var nodes []*httptest.Server
	for i := range 2 {
		s, err := acme.New(acme.Options{CAs: shared.D.Set(), Docs: docs, BaseURL: "http://acme.nodes.test", Node: string(rune('a' + i)),
			Perspectives: func(*config.ACMEPolicy) (*acme.Perspectives, error) {
				return &acme.Perspectives{Primary: gate}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		srv := httptest.NewServer(s)
		defer srv.Close()
		nodes = append(nodes, srv)
	}
	tr := &switchTransport{host: nodes[0].Listener.Addr().String()}
	c := &rawClient{t: t, h: shared, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	c.key, c.alg = newRaw(t, shared, "web").key, "ES256"
	resp, err := c.hc.Get("http://acme.nodes.test/acme/issuing/web/directory")
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode}
	resp.Body.Close()
	c.dir = map[string]any{"newNonce": "http://acme.nodes.test/acme/issuing/web/new-nonce", "newAccount": "http://acme.nodes.test/acme/issuing/web/new-account",
		"newOrder": "http://acme.nodes.test/acme/issuing/web/new-order"}
	if r.status != 200 {
		t.Fatalf("directory: %d", r.status)
	}
	c.mustRegister()
	o, r := c.newOrder("race.acme.test", "bad.acme.test")
	if r.status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	type chall struct{ Type, URL, Status string }
	challOf := func(authz string) string {
		var a struct{ Challenges []chall }
		c.post(authz, nil, jwsOpts{getEmpty: true}).decode(t, &a)
		return a.Challenges[0].URL
	}
	u := challOf(o.Authorizations[0])
	// Nonces first: the racing requests then only post.
	var bodies [][]byte
	for range 8 {
		bodies = append(bodies, c.sign(u, map[string]any{}, jwsOpts{}))
	}
	var wg sync.WaitGroup
	for i, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, u, bytesReader(body))
			req.Header.Set("Content-Type", "application/jose+json")
			cl := &http.Client{Transport: &switchTransport{host: nodes[i%2].Listener.Addr().String()}}
			if resp, err := cl.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	for wait := time.Now().Add(5 * time.Second); gate.calls.Load() == 0 && time.Now().Before(wait); {
		time.Sleep(5 * time.Millisecond) // the winner starts it in the background
	}
	if n := gate.calls.Load(); n != 1 {
		t.Fatalf("%d validations started, want 1", n)
	}
	close(gate.release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var ch chall
		c.post(u, nil, jwsOpts{getEmpty: true}).decode(t, &ch)
		if ch.Status == "valid" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("challenge is %s", ch.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := gate.calls.Load(); n != 1 {
		t.Fatalf("%d validations, want 1", n)
	}

	// A refusal: the second identifier's validation fails with caa.
	gate.view = validation.View{Perspective: "double", Problem: &validation.Problem{Type: "urn:ietf:params:acme:error:caa", Detail: "CAA forbids"}}
	u2 := challOf(o.Authorizations[1])
	if r := c.post(u2, map[string]any{}, jwsOpts{}); r.status != 200 {
		t.Fatalf("challenge: %d %s", r.status, r.body)
	}
	for {
		var ch struct {
			Status string
			Error  struct{ Type string }
		}
		c.post(u2, nil, jwsOpts{getEmpty: true}).decode(t, &ch)
		if ch.Status == "invalid" {
			if ch.Error.Type != "urn:ietf:params:acme:error:caa" {
				t.Fatalf("error %q", ch.Error.Type)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("challenge is %s", ch.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got orderReply
	c.post(o.Finalize[:len(o.Finalize)-len("/finalize")], nil, jwsOpts{getEmpty: true}).decode(t, &got)
	if got.Status != "invalid" {
		t.Fatalf("order is %s, want invalid", got.Status)
	}
}

// TestValidationTakeover: a validation whose owner has been silent for
// too long is taken over by another node, and the late owner's result is
// then discarded.
func TestValidationTakeover(t *testing.T) {
	docs := plugintest.NewMemDocStore()
	stuck := &gateValidator{release: make(chan struct{}), view: validation.View{Perspective: "stuck", Problem: &validation.Problem{Type: "urn:ietf:params:acme:error:connection", Detail: "late"}}}
	fresh := &gateValidator{release: make(chan struct{}), view: validation.View{Perspective: "fresh", OK: true}}
	close(fresh.release)
	var addrs []string
	for i, v := range []*gateValidator{stuck, fresh} {
		offset := time.Duration(i) * 3 * time.Minute // node b's clock is past the owner's silence limit
		s, err := acme.New(acme.Options{CAs: shared.D.Set(), Docs: docs, BaseURL: "http://acme.nodes.test", Node: string(rune('a' + i)),
			Now: func() time.Time { return time.Now().Add(offset) },
			Perspectives: func(*config.ACMEPolicy) (*acme.Perspectives, error) {
				return &acme.Perspectives{Primary: v}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		defer srv.Close()
		defer s.Close()
		defer func() {
			select {
			case <-stuck.release:
			default:
				close(stuck.release)
			}
		}()
		addrs = append(addrs, srv.Listener.Addr().String())
	}
	tr := &switchTransport{host: addrs[0]}
	c := &rawClient{t: t, h: shared, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}, alg: "ES256"}
	c.key = newRaw(t, shared, "web").key
	c.dir = map[string]any{"newNonce": "http://acme.nodes.test/acme/issuing/web/new-nonce", "newAccount": "http://acme.nodes.test/acme/issuing/web/new-account",
		"newOrder": "http://acme.nodes.test/acme/issuing/web/new-order"}
	c.mustRegister()
	o, r := c.newOrder("takeover.acme.test")
	if r.status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	var a struct {
		Challenges []struct{ URL, Status string }
	}
	c.post(o.Authorizations[0], nil, jwsOpts{getEmpty: true}).decode(t, &a)
	u := a.Challenges[0].URL
	if r := c.post(u, map[string]any{}, jwsOpts{}); r.status != 200 {
		t.Fatalf("challenge on a: %d %s", r.status, r.body)
	}
	for deadline := time.Now().Add(5 * time.Second); stuck.calls.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	tr.mu.Lock()
	tr.host = addrs[1]
	tr.mu.Unlock()
	if r := c.post(u, map[string]any{}, jwsOpts{}); r.status != 200 {
		t.Fatalf("challenge on b: %d %s", r.status, r.body)
	}
	status := func() string {
		var ch struct{ Status string }
		c.post(u, nil, jwsOpts{getEmpty: true}).decode(t, &ch)
		return ch.Status
	}
	for deadline := time.Now().Add(5 * time.Second); status() != "valid"; {
		if time.Now().After(deadline) {
			t.Fatal("node b's validation did not land")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stuck.release) // node a's refusal arrives late
	time.Sleep(200 * time.Millisecond)
	if st := status(); st != "valid" || stuck.calls.Load() != 1 || fresh.calls.Load() != 1 {
		t.Fatalf("after the late result: %s, calls %d/%d", st, stuck.calls.Load(), fresh.calls.Load())
	}
}

// failingCertDocs refuses to record issued certificates for download.
type failingCertDocs struct{ sdk.DocStore }

func (f failingCertDocs) PutDoc(ctx context.Context, d *sdk.Doc) (int64, error) {
	if d.Kind == acme.KindCert {
		return 0, fmt.Errorf("disk full: %w", sdk.ErrUnavailable)
	}
	return f.DocStore.PutDoc(ctx, d)
}

// TestFinalizeUnrecordedCertificate: when the issued certificate cannot
// be recorded for download, the order ends invalid with a problem that
// says so; it is never left processing (a client would poll for ever).
func TestFinalizeUnrecordedCertificate(t *testing.T) {
	ok := &gateValidator{release: make(chan struct{}), view: validation.View{Perspective: "double", OK: true}}
	close(ok.release)
	s, err := acme.New(acme.Options{CAs: shared.D.Set(), Docs: failingCertDocs{plugintest.NewMemDocStore()}, BaseURL: "http://acme.nodes.test",
		Perspectives: func(*config.ACMEPolicy) (*acme.Perspectives, error) { return &acme.Perspectives{Primary: ok}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := &rawClient{t: t, h: shared, hc: &http.Client{Transport: &switchTransport{host: srv.Listener.Addr().String()}, Timeout: 10 * time.Second}}
	c.key, c.alg = newRaw(t, shared, "web").key, "ES256"
	c.dir = map[string]any{"newNonce": "http://acme.nodes.test/acme/issuing/web/new-nonce", "newAccount": "http://acme.nodes.test/acme/issuing/web/new-account",
		"newOrder": "http://acme.nodes.test/acme/issuing/web/new-order"}
	c.mustRegister()
	o, r := c.newOrder("unrecorded.acme.test")
	if r.status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	var a struct{ Challenges []struct{ URL string } }
	c.post(o.Authorizations[0], nil, jwsOpts{getEmpty: true}).decode(t, &a)
	if r := c.post(a.Challenges[0].URL, map[string]any{}, jwsOpts{}); r.status != 200 {
		t.Fatalf("challenge: %d %s", r.status, r.body)
	}
	c.waitOrder(o, "ready")
	csr, _ := csrFor(t, "", "unrecorded.acme.test")
	r = c.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{})
	if typ, detail := r.problem(t); r.status != http.StatusServiceUnavailable || typ != acme.ProbServerInternal || !strings.Contains(detail, "could not be recorded") {
		t.Fatalf("finalize: %d %s %s", r.status, typ, detail)
	}
	var got orderReply
	c.post(strings.TrimSuffix(o.Finalize, "/finalize"), nil, jwsOpts{getEmpty: true}).decode(t, &got)
	if got.Status != "invalid" {
		t.Fatalf("order is %s, want invalid", got.Status)
	}
}
