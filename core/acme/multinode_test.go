package acme_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pkid/pkid/core/acme"
	"github.com/pkid/pkid/internal/pgtest"
)

// relay is a TCP load balancer with one target at a time.
type relay struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	conns  map[string]*atomic.Int64
}

func newRelay(t *testing.T) *relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, conns: map[string]*atomic.Int64{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			target := r.target
			n := r.conns[target]
			r.mu.Unlock()
			n.Add(1)
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
	return r
}

func (r *relay) set(target string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.target = target
	if r.conns[target] == nil {
		r.conns[target] = new(atomic.Int64)
	}
}

func (r *relay) count(target string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[target].Load()
}

// TestTwoNodesOnePostgres: two daemons on one PostgreSQL behind one name
// serve one ACME state: the account and order are created on node A, the
// challenge is validated and the order finalized on node B, and node A
// then serves the certificate.
func TestTwoNodesOnePostgres(t *testing.T) {
	legoPorts.Lock()
	defer legoPorts.Unlock()
	dsn := pgtest.New(t).NewDatabase(t)
	lb := newRelay(t)
	public := "https://" + lb.ln.Addr().String()
	dir := t.TempDir()
	store := fmt.Sprintf("certstore \"postgres\" \"main\" {\n  isolation = \"inprocess\"\n  dsn = %q\n}", dsn)
	a, err := startHarness(dir, shared.DNS, shared.HTTPPort, shared.TLSPort, harnessOpts{Certstore: store, PublicURL: public, Validators: sharedVals.replace})
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	b, err := startHarness(dir, shared.DNS, shared.HTTPPort, shared.TLSPort, harnessOpts{Reuse: true, PublicURL: public})
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	nodeA, nodeB := a.D.Addr().String(), b.D.Addr().String()

	lb.set(nodeA)
	c := newRaw(t, a, "web")
	c.mustRegister()
	o, r := c.newOrder("two.acme.test")
	if r.status != http.StatusCreated {
		t.Fatalf("order on A: %d %s", r.status, r.body)
	}

	lb.set(nodeB)
	c.hc.CloseIdleConnections()
	c.solveHTTP01(o)
	csr, _ := csrFor(t, "", "two.acme.test")
	r = c.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{})
	if r.status != http.StatusOK {
		t.Fatalf("finalize on B: %d %s", r.status, r.body)
	}
	var done orderReply
	r.decode(t, &done)
	if lb.count(nodeB) == 0 {
		t.Fatal("node B saw no connection")
	}

	lb.set(nodeA)
	c.hc.CloseIdleConnections()
	before := lb.count(nodeA)
	chain := c.post(done.Certificate, nil, jwsOpts{getEmpty: true})
	if chain.status != http.StatusOK || lb.count(nodeA) == before {
		t.Fatalf("download on A: %d %s", chain.status, chain.body)
	}
	verifyChain(t, a, chain.body, "two.acme.test")
	orders, err := (&acme.Admin{Docs: b.Docs}).Orders(t.Context(), "issuing/web")
	if err != nil || len(orders) != 1 || orders[0].Status != "valid" {
		t.Fatalf("orders seen from B: %+v %v", orders, err)
	}
}
