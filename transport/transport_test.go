package transport_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/transport"
	"github.com/pkid/pkid/transport/pkidtest"
)

// pair is two services, a (an HTTPS server) and b (its client), with
// certificates from ca.
type pair struct {
	ca     *pkidtest.CA
	a, b   *transport.Transport
	url    string
	served atomic.Int64
	// serials records the serial of each client certificate a saw.
	mu      sync.Mutex
	serials map[string]bool
}

func newPair(t *testing.T, ca *pkidtest.CA, mod func(*transport.Config)) *pair {
	t.Helper()
	p := &pair{ca: ca, serials: map[string]bool{}}
	cfg := func(cn string, hosts ...string) transport.Config {
		c := transport.Config{
			CA:         transport.CA{URL: ca.URL, RootCAs: ca.RootCAs, Label: ca.Label, Profile: ca.Profile, AuthKey: ca.AuthKey},
			Identity:   transport.Identity{CN: cn, Hosts: hosts},
			RenewAt:    0.5,
			Jitter:     0.02,
			MinBackoff: 200 * time.Millisecond, MaxBackoff: time.Second,
			Revocation: transport.RevocationConfig{Mode: transport.FailOpen, CacheTTL: 2 * time.Second, HTTPClient: ca.HTTPClient()},
		}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var err error
	if p.a, err = transport.New(ctx, cfg("svc-a", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if p.b, err = transport.New(ctx, cfg("svc-b")); err != nil {
		t.Fatal(err)
	}
	go p.a.Run(ctx)
	go p.b.Run(ctx)
	ln, err := p.a.Listen("tcp", "127.0.0.1:0", transport.Peers{Roots: ca.Roots, Names: []string{"svc-b"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.served.Add(1)
		p.mu.Lock()
		p.serials[r.TLS.PeerCertificates[0].SerialNumber.String()] = true
		p.mu.Unlock()
		fmt.Fprint(w, "hello ", r.TLS.PeerCertificates[0].Subject.CommonName)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p.url = "https://" + ln.Addr().String() + "/"
	return p
}

// client is b's HTTP client; keepAlive false makes every request a new
// handshake.
func (p *pair) client(keepAlive bool) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   p.b.ClientConfig("127.0.0.1", transport.Peers{Roots: p.ca.Roots, Names: []string{"svc-a"}}),
		DisableKeepAlives: !keepAlive,
	}}
}

func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "hello svc-b" {
		return fmt.Errorf("%d %q", resp.StatusCode, body)
	}
	return nil
}

// Two services talk through several renewals of both certificates
// (8-second certificates renewed at half their life) without a failed
// request, on new connections and on one kept open throughout.
func TestRenewalsWithoutFailedRequests(t *testing.T) {
	t.Parallel()
	ca := pkidtest.Start(t, pkidtest.Options{Expiry: "8s"})
	p := newPair(t, ca, nil)
	fresh := p.client(false)
	// One connection opened before the renewals and used throughout:
	// renewals must not close it.
	kept, err := p.b.Dial(context.Background(), "tcp", strings.TrimSuffix(strings.TrimPrefix(p.url, "https://"), "/"),
		transport.Peers{Roots: ca.Roots, Names: []string{"svc-a"}})
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	keptReader := bufio.NewReader(kept)
	onKept := func() error {
		if _, err := io.WriteString(kept, "GET / HTTP/1.1\r\nHost: svc-a\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(keptReader, nil)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello svc-b" {
			return fmt.Errorf("%d %q", resp.StatusCode, body)
		}
		return nil
	}
	firstA, firstB := p.a.Certificate().Leaf, p.b.Certificate().Leaf
	deadline := time.Now().Add(40 * time.Second)
	var requests, failures int
	for time.Now().Before(deadline) && (p.a.Health().Renewals < 3 || p.b.Health().Renewals < 3) {
		for _, do := range []func() error{func() error { return get(fresh, p.url) }, onKept} {
			requests++
			if err := do(); err != nil {
				failures++
				t.Errorf("request %d: %v", requests, err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	// One more new connection, with b's latest certificate.
	requests++
	if err := get(fresh, p.url); err != nil {
		failures++
		t.Errorf("last request: %v", err)
	}
	ha, hb := p.a.Health(), p.b.Health()
	if ha.Renewals < 3 || hb.Renewals < 3 {
		t.Fatalf("renewals: a %d, b %d (a %+v, b %+v)", ha.Renewals, hb.Renewals, ha, hb)
	}
	if failures != 0 {
		t.Fatalf("%d of %d requests failed", failures, requests)
	}
	if p.a.Certificate().Leaf.SerialNumber.Cmp(firstA.SerialNumber) == 0 || p.b.Certificate().Leaf.SerialNumber.Cmp(firstB.SerialNumber) == 0 {
		t.Fatal("certificates did not change")
	}
	p.mu.Lock()
	seen := len(p.serials)
	latest := p.serials[p.b.Certificate().Leaf.SerialNumber.String()]
	p.mu.Unlock()
	if seen < 4 || !latest {
		t.Fatalf("the server saw %d client certificates, want the first and 3 renewals", seen)
	}
	if ha.State != "ok" || hb.State != "ok" {
		t.Fatalf("health: %+v %+v", ha, hb)
	}
	t.Logf("%d requests, 0 failed; renewals a %d b %d; %d client certificates seen", requests, ha.Renewals, hb.Renewals, seen)
}

// A revoked client is refused by the server within the revocation cache
// bound, and its own renewal is refused too.
func TestRevokedPeerRefused(t *testing.T) {
	t.Parallel()
	ca := pkidtest.Start(t, pkidtest.Options{Expiry: "1h"})
	const ttl = 2 * time.Second
	p := newPair(t, ca, func(c *transport.Config) {
		c.Revocation.Mode, c.Revocation.CacheTTL = transport.FailClosed, ttl
	})
	fresh := p.client(false)
	if err := get(fresh, p.url); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	// renewal-info for a good certificate: a window inside its lifetime,
	// later than b's own schedule (half of it), which therefore stays.
	ctx := context.Background()
	planned := p.b.Health().NextRenewal
	leaf := p.b.Certificate().Leaf
	w, err := p.b.CheckRenewalInfo(ctx)
	if err != nil || !w.Start.After(planned) || !w.End.Before(leaf.NotAfter) || !p.b.Health().NextRenewal.Equal(planned) {
		t.Fatalf("renewal-info of a good certificate: %+v %v (planned %v, now %v)", w, err, planned, p.b.Health().NextRenewal)
	}
	if err := ca.Revoke(context.Background(), p.b.Certificate().Leaf); err != nil {
		t.Fatal(err)
	}
	revokedAt := time.Now()
	var refusedAfter time.Duration
	for time.Since(revokedAt) < ttl+5*time.Second {
		if err := get(fresh, p.url); err != nil {
			refusedAfter = time.Since(revokedAt)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if refusedAfter == 0 {
		t.Fatal("the revoked client is still accepted")
	}
	// The bound plus one OCSP round trip on a loaded machine.
	if refusedAfter > ttl+2*time.Second {
		t.Fatalf("refused after %v, beyond the cache bound %v", refusedAfter, ttl)
	}
	// Refused from then on.
	for range 3 {
		if err := get(fresh, p.url); err == nil {
			t.Fatal("revoked client accepted again")
		}
	}
	// renewal-info now says "renew now": Run tries at once, and pkid
	// refuses a revoked certificate.
	if w, err := p.b.CheckRenewalInfo(ctx); err != nil || !w.End.Before(time.Now()) {
		t.Fatalf("renewal-info of a revoked certificate: %+v %v", w, err)
	}
	for start := time.Now(); p.b.Health().Failures == 0; time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("no renewal attempt after renewal-info said renew now: %+v", p.b.Health())
		}
	}
	if h := p.b.Health(); !strings.Contains(h.LastError, "revoked") {
		t.Fatalf("the attempt: %+v", h)
	}
	err = p.b.RenewNow(context.Background())
	if err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("renewal of a revoked certificate: %v", err)
	}
	if h := p.b.Health(); h.State != "degraded" || h.Failures == 0 {
		t.Fatalf("health after a refused renewal: %+v", h)
	}
	t.Logf("refused %v after the revocation (cache bound %v)", refusedAfter, ttl)
}

// The CA going away across a renewal point does not break serving: the
// current certificates stay, renewal is retried with backoff, health says
// degraded, and once the CA is back the renewals succeed.
func TestCAOutage(t *testing.T) {
	t.Parallel()
	ca := pkidtest.Start(t, pkidtest.Options{Expiry: "20s"})
	p := newPair(t, ca, nil)
	fresh := p.client(false)
	if err := get(fresh, p.url); err != nil {
		t.Fatal(err)
	}
	before := p.a.Health().Renewals
	// Down from the start until both sides failed to renew (at half of
	// the 20-second lifetime) and retried with backoff.
	ca.Down()
	downAt := time.Now()
	for p.a.Health().Failures < 3 || p.b.Health().Failures < 3 {
		if time.Since(downAt) > 17*time.Second {
			t.Fatalf("renewal did not fail and retry during the outage: %+v %+v", p.a.Health(), p.b.Health())
		}
		if err := get(fresh, p.url); err != nil {
			t.Fatalf("request during the outage (%v in): %v", time.Since(downAt), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h := p.a.Health(); h.State != "degraded" || h.LastError == "" {
		t.Fatalf("health during the outage: %+v", h)
	}
	t.Logf("CA down %v; renewals failing, serving on", time.Since(downAt).Round(100*time.Millisecond))
	if p.a.Health().Renewals != before {
		t.Fatal("renewed while the CA was down")
	}
	ca.Up()
	upAt := time.Now()
	for p.a.Health().State != "ok" || p.b.Health().State != "ok" {
		if time.Since(upAt) > 5*time.Second {
			t.Fatalf("not recovered: %+v %+v", p.a.Health(), p.b.Health())
		}
		if err := get(fresh, p.url); err != nil {
			t.Fatalf("request after the outage: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := get(fresh, p.url); err != nil {
		t.Fatal(err)
	}
	if h := p.a.Health(); h.Renewals <= before || h.Failures != 0 {
		t.Fatalf("after the outage: %+v", h)
	}
}

// New fails with a clear error when the CA cannot be reached or refuses
// the credential.
func TestNewErrors(t *testing.T) {
	t.Parallel()
	ca := pkidtest.Start(t, pkidtest.Options{})
	base := transport.Config{CA: transport.CA{URL: ca.URL, RootCAs: ca.RootCAs, Label: ca.Label, Profile: ca.Profile, AuthKey: ca.AuthKey},
		Identity: transport.Identity{CN: "x"}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wrongKey := base
	wrongKey.CA.AuthKey = []byte("not the key at all, not at all!!")
	noCred := base
	noCred.CA.AuthKey = nil
	noName := base
	noName.Identity = transport.Identity{}
	untrusted := base
	untrusted.CA.RootCAs = nil
	for name, c := range map[string]transport.Config{"wrong key": wrongKey, "no credential": noCred, "no name": noName, "untrusted CA": untrusted} {
		start := time.Now()
		_, err := transport.New(ctx, c)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		t.Logf("%s: %v (%v)", name, err, time.Since(start))
	}
	ca.Down()
	start := time.Now()
	_, err := transport.New(ctx, base)
	if err == nil {
		t.Error("CA down: no error")
	}
	t.Logf("CA down: %v (%v)", err, time.Since(start))
}

// A self-made peer, not from the pool, is refused by the handshake.
func TestForeignPeerRefused(t *testing.T) {
	t.Parallel()
	ca := pkidtest.Start(t, pkidtest.Options{})
	p := newPair(t, ca, nil)
	other := pkidtest.Start(t, pkidtest.Options{})
	q := newPair(t, other, nil)
	// q's client, whose certificate comes from another CA, calls p's server.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: q.b.ClientConfig("127.0.0.1", transport.Peers{Roots: ca.Roots}),
	}}
	if err := get(c, p.url); err == nil {
		t.Fatal("a client from another CA was accepted")
	}
	// The right CA but a name the server does not accept.
	wrongName := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: p.a.ClientConfig("127.0.0.1", transport.Peers{Roots: ca.Roots}),
	}}
	if err := get(wrongName, p.url); err == nil {
		t.Fatal("svc-a accepted as a client where only svc-b is")
	}
}

// With a daemon that requires client certificates, a service gets its
// first certificate with a bootstrap client certificate (sign over mTLS)
// instead of an HMAC key, then renews with its own.
func TestBootstrapWithClientCertificate(t *testing.T) {
	t.Parallel()
	ca := pkidtest.Start(t, pkidtest.Options{Expiry: "1h", RequireClientCerts: true})
	boot := ca.Issue(t, "bootstrap")
	cfg := transport.Config{
		CA:       transport.CA{URL: ca.URL, RootCAs: ca.RootCAs, Label: ca.Label, Profile: ca.Profile, Bootstrap: &boot},
		Identity: transport.Identity{CN: "svc-boot", Hosts: []string{"127.0.0.1"}},
	}
	ctx := context.Background()
	tr, err := transport.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	first := tr.Certificate().Leaf
	if first.Subject.CommonName != "svc-boot" || first.SerialNumber.Cmp(boot.Leaf.SerialNumber) == 0 {
		t.Fatalf("first certificate: %v %v", first.Subject, first.SerialNumber)
	}
	if err := tr.RenewNow(ctx); err != nil {
		t.Fatal(err)
	}
	if h := tr.Health(); h.Renewals != 1 || tr.Certificate().Leaf.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatalf("renewal: %+v", h)
	}
	// Without any client certificate the daemon refuses the connection.
	noCred := cfg
	noCred.CA.Bootstrap = nil
	noCred.CA.AuthKey = ca.AuthKey
	if _, err := transport.New(ctx, noCred); err == nil {
		t.Fatal("a client without a certificate got one")
	}
}
