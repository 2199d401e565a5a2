package acme_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/pkid/pkid/core/acme"
	"github.com/pkid/pkid/core/acme/validation"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/server"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// gateNode serves one ACME node on docs whose only perspective is v, and
// returns a registered raw client of the "web" directory.
func gateNode(t *testing.T, docs sdk.DocStore, v validation.Validator) *rawClient {
	t.Helper()
	return observedNode(t, docs, v, nil)
}

// observedNode is gateNode with an Observer.
func observedNode(t *testing.T, docs sdk.DocStore, v validation.Validator, obs server.Observer) *rawClient {
	t.Helper()
	s, err := acme.New(acme.Options{CAs: shared.D.Set(), Docs: docs, BaseURL: "http://acme.nodes.test", Observer: obs,
		Perspectives: func(*config.ACMEPolicy) (*acme.Perspectives, error) { return &acme.Perspectives{Primary: v}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(s.Close)
	t.Cleanup(srv.Close)
	c := &rawClient{t: t, h: shared, hc: &http.Client{Transport: &switchTransport{host: srv.Listener.Addr().String()}, Timeout: 10 * time.Second}}
	c.key, c.alg = newRaw(t, shared, "web").key, "ES256"
	base := "http://acme.nodes.test/acme/issuing/web/"
	c.dir = map[string]any{"newNonce": base + "new-nonce", "newAccount": base + "new-account", "newOrder": base + "new-order",
		"keyChange": base + "key-change", "revokeCert": base + "revoke-cert"}
	c.mustRegister()
	return c
}

// TestDeactivationBeatsLateValidation: an authorization deactivated while
// its challenge is being validated stays deactivated when the validation
// succeeds afterwards, and its order stays invalid (a deactivated
// authorization must never be usable again, RFC 8555 section 7.5.2).
func TestDeactivationBeatsLateValidation(t *testing.T) {
	gate := &gateValidator{release: make(chan struct{}), view: validation.View{Perspective: "double", OK: true}}
	released := false
	defer func() {
		if !released {
			close(gate.release)
		}
	}()
	c := gateNode(t, plugintest.NewMemDocStore(), gate)
	o, r := c.newOrder("deact.acme.test")
	if r.status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	authz := o.Authorizations[0]
	var a struct{ Challenges []struct{ URL string } }
	c.post(authz, nil, jwsOpts{getEmpty: true}).decode(t, &a)
	u := a.Challenges[0].URL
	if r := c.post(u, map[string]any{}, jwsOpts{}); r.status != 200 {
		t.Fatalf("challenge: %d %s", r.status, r.body)
	}
	for deadline := time.Now().Add(5 * time.Second); gate.calls.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if r := c.post(authz, map[string]string{"status": "deactivated"}, jwsOpts{}); r.status != 200 {
		t.Fatalf("deactivate: %d %s", r.status, r.body)
	}
	close(gate.release)
	released = true
	var ch struct{ Status string }
	for deadline := time.Now().Add(5 * time.Second); ; {
		c.post(u, nil, jwsOpts{getEmpty: true}).decode(t, &ch)
		if ch.Status != "processing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the validation never ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got struct{ Status string }
	c.post(authz, nil, jwsOpts{getEmpty: true}).decode(t, &got)
	if got.Status != "deactivated" {
		t.Fatalf("authorization is %s after a late validation, want deactivated (challenge %s)", got.Status, ch.Status)
	}
	var ord orderReply
	c.post(strings.TrimSuffix(o.Finalize, "/finalize"), nil, jwsOpts{getEmpty: true}).decode(t, &ord)
	if ord.Status != "invalid" {
		t.Fatalf("order is %s, want invalid", ord.Status)
	}
	csr, _ := csrFor(t, "", "deact.acme.test")
	if r := c.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{}); r.status != http.StatusForbidden {
		t.Fatalf("finalize of a deactivated authorization's order: %d %s", r.status, r.body)
	}
}

// TestJWSUnencodedPayloadRefused: RFC 8555 section 6.2 requests carry a
// base64url payload; a JWS with "b64": false (RFC 7797) or any other
// critical header extension is malformed, not verified some other way.
func TestJWSUnencodedPayloadRefused(t *testing.T) {
	c := newRaw(t, shared, "web")
	c.mustRegister()
	target := c.url("newOrder")
	for _, tc := range []struct {
		name string
		opts func(*jose.SignerOptions) *jose.SignerOptions
	}{
		{"b64 false", func(o *jose.SignerOptions) *jose.SignerOptions { return o.WithBase64(false) }},
		{"crit extension", func(o *jose.SignerOptions) *jose.SignerOptions {
			return o.WithHeader("x-ext", "1").WithCritical("x-ext")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := (&jose.SignerOptions{}).WithHeader("nonce", c.nonce()).WithHeader("url", target)
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: c.key, KeyID: c.kid}}, tc.opts(opts))
			if err != nil {
				t.Fatal(err)
			}
			obj, err := signer.Sign([]byte(`{"identifiers":[{"type":"dns","value":"b64.acme.test"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			r := c.postRaw(target, []byte(obj.FullSerialize()), "application/jose+json")
			if typ, detail := r.problem(t); r.status != http.StatusBadRequest || typ != acme.ProbMalformed {
				t.Fatalf("got %d %s (%s), want 400 malformed", r.status, typ, detail)
			}
		})
	}
}

// countingDocs counts authorization reads.
type countingDocs struct {
	sdk.DocStore
	authzReads atomic.Int64
}

func (c *countingDocs) GetDoc(ctx context.Context, kind, id string) (*sdk.Doc, error) {
	if kind == acme.KindAuthz {
		c.authzReads.Add(1)
	}
	return c.DocStore.GetDoc(ctx, kind, id)
}

// TestOrdersListBounded: listing an account's orders reads a bounded
// number of authorizations however many pending orders of many
// identifiers the account piled up (each listing request would otherwise
// read every authorization of every pending order), and still lists
// every pending order.
func TestOrdersListBounded(t *testing.T) {
	docs := &countingDocs{DocStore: plugintest.NewMemDocStore()}
	gate := &gateValidator{release: make(chan struct{})}
	defer close(gate.release)
	c := gateNode(t, docs, gate)
	const orders = 4
	var want []string
	for i := range orders {
		var names []string
		for j := range acme.MaxIdentifiers {
			names = append(names, fmt.Sprintf("n%d-%d.acme.test", i, j))
		}
		o, r := c.newOrder(names...)
		if r.status != http.StatusCreated {
			t.Fatalf("order %d: %d %s", i, r.status, r.body)
		}
		want = append(want, strings.TrimSuffix(o.Finalize, "/finalize"))
	}
	docs.authzReads.Store(0)
	var list struct{ Orders []string }
	r := c.post(c.kid+"/orders", nil, jwsOpts{getEmpty: true})
	if r.status != http.StatusOK {
		t.Fatalf("orders: %d %s", r.status, r.body)
	}
	r.decode(t, &list)
	slices.Sort(list.Orders)
	slices.Sort(want)
	if !slices.Equal(list.Orders, want) {
		t.Fatalf("listed %q, want %q", list.Orders, want)
	}
	if n := docs.authzReads.Load(); n > acme.MaxListAuthzReads {
		t.Fatalf("listing read %d authorizations, bound %d", n, acme.MaxListAuthzReads)
	}
}

// keyChangeBody is a keyChange request of c to newKey.
func keyChangeBody(t *testing.T, c *rawClient, newKey crypto.Signer) []byte {
	t.Helper()
	u := c.url("keyChange")
	inner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: newKey},
		(&jose.SignerOptions{EmbedJWK: true}).WithHeader("url", u))
	if err != nil {
		t.Fatal(err)
	}
	old := jose.JSONWebKey{Key: c.key.Public()}
	payload, _ := json.Marshal(map[string]any{"account": c.kid, "oldKey": old})
	obj, err := inner.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	return c.sign(u, json.RawMessage(obj.FullSerialize()), jwsOpts{})
}

// TestKeyChangeRace: accounts racing to roll over to one new key (and a
// newAccount racing with them) leave that key with exactly one account.
func TestKeyChangeRace(t *testing.T) {
	docs := &slowKeyLookups{DocStore: plugintest.NewMemDocStore()}
	gate := &gateValidator{release: make(chan struct{})}
	defer close(gate.release)
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var clients []*rawClient
	for range 6 {
		clients = append(clients, gateNode(t, docs, gate))
	}
	var bodies [][]byte
	for _, c := range clients {
		bodies = append(bodies, keyChangeBody(t, c, newKey))
	}
	fresh := &rawClient{t: t, h: shared, hc: clients[0].hc, dir: clients[0].dir, key: newKey, alg: jose.ES256}
	newAcct := fresh.sign(fresh.url("newAccount"), map[string]any{"termsOfServiceAgreed": true}, jwsOpts{jwk: true})
	docs.race(len(bodies) + 1) // every racer looks the key up before any writes
	statuses := make([]int, len(bodies)+1)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == len(bodies) {
				statuses[i] = fresh.postRaw(fresh.url("newAccount"), newAcct, "application/jose+json").status
				return
			}
			statuses[i] = clients[i].postRaw(clients[i].url("keyChange"), bodies[i], "application/jose+json").status
		}()
	}
	wg.Wait()
	won := 0
	for i, s := range statuses {
		if s == http.StatusCreated || (s == http.StatusOK && i < len(bodies)) { // newAccount's 200 is the winner's account
			won++
		}
	}
	accts, err := (&acme.Admin{Docs: docs}).Accounts(context.Background(), "issuing/web")
	if err != nil {
		t.Fatal(err)
	}
	tp := (&rawClient{key: newKey}).thumb()
	holders := 0
	for _, a := range accts {
		if a.Thumbprint == tp {
			holders++
		}
	}
	if won != 1 || holders != 1 {
		t.Fatalf("statuses %v: %d requests won the key, %d accounts have it, want 1", statuses, won, holders)
	}
}

// slowKeyLookups holds lookups of accounts by key, once racers is set,
// until racers of them are waiting (or a second passed), so that racing
// requests all look before any of them writes.
type slowKeyLookups struct {
	sdk.DocStore
	mu      sync.Mutex
	racers  int
	waiting int
	all     chan struct{}
}

func (s *slowKeyLookups) race(n int) {
	s.mu.Lock()
	s.racers, s.all = n, make(chan struct{})
	s.mu.Unlock()
}

func (s *slowKeyLookups) FindDocs(ctx context.Context, kind, key string, limit int, fn func(*sdk.Doc) error) error {
	if kind != acme.KindAccount || !strings.HasPrefix(key, "jwk:") {
		return s.DocStore.FindDocs(ctx, kind, key, limit, fn)
	}
	// Read first, then wait for the other racers to have read too.
	var found []*sdk.Doc
	err := s.DocStore.FindDocs(ctx, kind, key, limit, func(d *sdk.Doc) error {
		found = append(found, d)
		return nil
	})
	s.mu.Lock()
	all := s.all
	if s.racers > 0 {
		if s.waiting++; s.waiting == s.racers {
			close(s.all)
		}
	}
	s.mu.Unlock()
	if all != nil {
		select {
		case <-all:
		case <-time.After(time.Second):
		}
	}
	if err != nil {
		return err
	}
	for _, d := range found {
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// TestDeactivatedAccountKey: once an account is deactivated its key is
// refused everywhere (RFC 8555 section 7.3.6), newAccount included: it
// answers unauthorized instead of returning the account as if usable.
func TestDeactivatedAccountKey(t *testing.T) {
	c := newRaw(t, shared, "web")
	c.mustRegister()
	if r := c.post(c.kid, map[string]string{"status": "deactivated"}, jwsOpts{}); r.status != http.StatusOK {
		t.Fatalf("deactivate: %d %s", r.status, r.body)
	}
	for _, p := range []map[string]any{{"termsOfServiceAgreed": true}, {"onlyReturnExisting": true}} {
		r := c.post(c.url("newAccount"), p, jwsOpts{jwk: true})
		if typ, detail := r.problem(t); r.status != http.StatusForbidden || typ != acme.ProbUnauthorized {
			t.Fatalf("newAccount %v with a deactivated key: %d %s %s", p, r.status, typ, detail)
		}
	}
	if _, r := c.newOrder("gone.acme.test"); r.status != http.StatusForbidden {
		t.Fatalf("order by a deactivated account: %d %s", r.status, r.body)
	}
}

// nonceWrites counts acme-nonce documents written.
type nonceWrites struct {
	sdk.DocStore
	n atomic.Int64
}

func (w *nonceWrites) PutDoc(ctx context.Context, d *sdk.Doc) (int64, error) {
	if d.Kind == acme.KindNonce {
		w.n.Add(1)
	}
	return w.DocStore.PutDoc(ctx, d)
}

// TestNoncesCostNoWrites: newNonce is unauthenticated, so issuing a
// nonce must not write to the store (a flood of HEAD requests would
// otherwise grow it by one document per request for an hour). A nonce is
// still one-use on every node, expires, and cannot be forged.
func TestNoncesCostNoWrites(t *testing.T) {
	docs := &nonceWrites{DocStore: plugintest.NewMemDocStore()}
	var offset atomic.Int64
	gate := &gateValidator{release: make(chan struct{})}
	defer close(gate.release)
	var nodes []*rawClient
	for i := range 2 {
		s, err := acme.New(acme.Options{CAs: shared.D.Set(), Docs: docs, BaseURL: "http://acme.nodes.test", Node: string(rune('a' + i)),
			Now:          func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
			Perspectives: func(*config.ACMEPolicy) (*acme.Perspectives, error) { return &acme.Perspectives{Primary: gate}, nil }})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		t.Cleanup(s.Close)
		t.Cleanup(srv.Close)
		c := &rawClient{t: t, h: shared, hc: &http.Client{Transport: &switchTransport{host: srv.Listener.Addr().String()}, Timeout: 10 * time.Second}}
		base := "http://acme.nodes.test/acme/issuing/web/"
		c.dir = map[string]any{"newNonce": base + "new-nonce", "newAccount": base + "new-account", "newOrder": base + "new-order"}
		nodes = append(nodes, c)
	}
	a, b := nodes[0], nodes[1]
	a.key, a.alg = newRaw(t, shared, "web").key, "ES256"
	a.mustRegister()
	b.key, b.alg, b.kid = a.key, a.alg, a.kid

	before := docs.n.Load()
	for range 50 {
		a.nonce()
	}
	if n := docs.n.Load() - before; n != 0 {
		t.Fatalf("50 newNonce requests wrote %d nonce documents, want 0", n)
	}
	order := map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": "nonce.acme.test"}}}
	n := a.nonce()
	if r := b.post(b.url("newOrder"), order, jwsOpts{nonce: n}); r.status != http.StatusCreated {
		t.Fatalf("a nonce of node a on node b: %d %s", r.status, r.body)
	}
	for _, c := range []*rawClient{a, b} {
		if typ, _ := c.post(c.url("newOrder"), order, jwsOpts{nonce: n}).problem(t); typ != acme.ProbBadNonce {
			t.Fatalf("replayed nonce: %s", typ)
		}
	}
	forged := a.nonce()
	forged = forged[:len(forged)-2] + map[bool]string{true: "AA", false: "BA"}[strings.HasSuffix(forged, "AA")]
	if typ, _ := a.post(a.url("newOrder"), order, jwsOpts{nonce: forged}).problem(t); typ != acme.ProbBadNonce {
		t.Fatalf("forged nonce: %s", typ)
	}
	old := a.nonce()
	offset.Store(int64(2 * time.Hour))
	if typ, _ := a.post(a.url("newOrder"), order, jwsOpts{nonce: old}).problem(t); typ != acme.ProbBadNonce {
		t.Fatalf("expired nonce: %s", typ)
	}
}

// readyOrder makes an order for name and validates it through c's
// (accepting) perspective.
func readyOrder(t *testing.T, c *rawClient, name string) orderReply {
	t.Helper()
	o, r := c.newOrder(name)
	if r.status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	var a struct{ Challenges []struct{ URL string } }
	c.post(o.Authorizations[0], nil, jwsOpts{getEmpty: true}).decode(t, &a)
	if r := c.post(a.Challenges[0].URL, map[string]any{}, jwsOpts{}); r.status != 200 {
		t.Fatalf("challenge: %d %s", r.status, r.body)
	}
	return c.waitOrder(o, "ready")
}

// TestFinalizeRace: finalize requests racing on two nodes issue one
// certificate; the others are told the order is not ready.
func TestFinalizeRace(t *testing.T) {
	docs := plugintest.NewMemDocStore()
	ok := &gateValidator{release: make(chan struct{}), view: validation.View{Perspective: "double", OK: true}}
	close(ok.release)
	a := gateNode(t, docs, ok)
	b := gateNode(t, docs, ok)
	b.key, b.kid = a.key, a.kid
	o := readyOrder(t, a, "race-fin.acme.test")
	csr, _ := csrFor(t, "", "race-fin.acme.test")
	var bodies [][]byte
	for i := range 6 {
		c := []*rawClient{a, b}[i%2]
		bodies = append(bodies, c.sign(o.Finalize, map[string]string{"csr": csr}, jwsOpts{}))
	}
	statuses := make([]int, len(bodies))
	var wg sync.WaitGroup
	for i, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := []*rawClient{a, b}[i%2]
			statuses[i] = c.postRaw(o.Finalize, body, "application/jose+json").status
		}()
	}
	wg.Wait()
	issued := 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			issued++
		case http.StatusForbidden: // orderNotReady
		default:
			t.Fatalf("statuses %v", statuses)
		}
	}
	n := 0
	err := docs.FindDocs(context.Background(), acme.KindCert, "account:"+a.kid[strings.LastIndex(a.kid, "/")+1:], 0, func(*sdk.Doc) error { n++; return nil })
	if err != nil || issued != 1 || n != 1 {
		t.Fatalf("statuses %v: %d finalized, %d certificates recorded (%v)", statuses, issued, n, err)
	}
}

// TestCrossAccountAndDirectory: an account cannot act on another
// account's order, authorization, challenge or certificate, nor revoke
// its certificate by kid; and an account of one directory (CA/profile)
// is unknown to another, whichever way its kid is written.
func TestCrossAccountAndDirectory(t *testing.T) {
	docs := plugintest.NewMemDocStore()
	ok := &gateValidator{release: make(chan struct{}), view: validation.View{Perspective: "double", OK: true}}
	close(ok.release)
	a := gateNode(t, docs, ok)
	m := gateNode(t, docs, ok) // mallory
	o := readyOrder(t, a, "cross.acme.test")
	csr, _ := csrFor(t, "", "cross.acme.test")
	r := a.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{})
	if r.status != http.StatusOK {
		t.Fatalf("finalize: %d %s", r.status, r.body)
	}
	var done orderReply
	r.decode(t, &done)
	var az struct{ Challenges []struct{ URL string } }
	a.post(o.Authorizations[0], nil, jwsOpts{getEmpty: true}).decode(t, &az)
	pem := a.post(done.Certificate, nil, jwsOpts{getEmpty: true}).body
	der := pemDER(t, pem)
	for _, tc := range []struct {
		name, url string
		payload   any
	}{
		{"order", strings.TrimSuffix(o.Finalize, "/finalize"), nil},
		{"finalize", o.Finalize, map[string]string{"csr": csr}},
		{"authz", o.Authorizations[0], nil},
		{"authz deactivation", o.Authorizations[0], map[string]string{"status": "deactivated"}},
		{"challenge", az.Challenges[0].URL, map[string]any{}},
		{"certificate", done.Certificate, nil},
		{"account", a.kid, map[string]string{"status": "deactivated"}},
		{"orders list", a.kid + "/orders", nil},
		{"revocation by kid", m.url("revokeCert"), map[string]any{"certificate": base64.RawURLEncoding.EncodeToString(der)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := m.post(tc.url, tc.payload, jwsOpts{getEmpty: tc.payload == nil})
			if typ, detail := r.problem(t); r.status != http.StatusForbidden || typ != acme.ProbUnauthorized {
				t.Fatalf("got %d %s (%s)", r.status, typ, detail)
			}
		})
	}
	// The account of issuing/web on issuing/limited: by its own kid, and
	// by its ID under the other directory's prefix.
	limited := strings.Replace(a.url("newOrder"), "/web/", "/limited/", 1)
	for _, kid := range []string{a.kid, strings.Replace(a.kid, "/web/", "/limited/", 1)} {
		body := a.sign(limited, map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": "x.acme.test"}}}, jwsOpts{kid: kid})
		r := a.postRaw(limited, body, "application/jose+json")
		if typ, detail := r.problem(t); r.status != http.StatusBadRequest || typ != acme.ProbAccountDoesNotExist {
			t.Fatalf("kid %s on issuing/limited: %d %s (%s)", kid, r.status, typ, detail)
		}
	}
	// Still a's, unrevoked.
	if r := a.post(done.Certificate, nil, jwsOpts{getEmpty: true}); r.status != http.StatusOK {
		t.Fatalf("owner's download: %d", r.status)
	}
}

func pemDER(t *testing.T, b []byte) []byte {
	t.Helper()
	blk, _ := pemDecode(b)
	if blk == nil {
		t.Fatalf("no PEM in %q", b)
	}
	return blk.Bytes
}

var pemDecode = pem.Decode

// TestLongNameRateLimited: a name as long as DNS allows, under a
// directory with per-name rate limits, gets an order (or a 4xx), never a
// 500 from a rate-limit document whose ID outgrew the store's limit.
func TestLongNameRateLimited(t *testing.T) {
	c := newRaw(t, shared, "limited")
	c.mustRegister()
	label := strings.Repeat("a", 63)
	name := label + "." + label + "." + label + "." + strings.Repeat("b", 51) + ".acme.test" // 253 bytes
	if len(name) != 253 {
		t.Fatalf("name of %d bytes", len(name))
	}
	_, r := c.newOrder(name)
	if r.status != http.StatusCreated {
		t.Fatalf("order for a %d-byte name: %d %s", len(name), r.status, r.body)
	}
	if _, r := c.newOrder(name); r.status != http.StatusTooManyRequests {
		t.Fatalf("second order for the name within the window: %d %s", r.status, r.body)
	}
}

// TestReplacesHostileCertID: a replaces certID naming this CA with a
// serial no certificate can have (as long as a certID may be) is a 400
// problem, not a 500 from a document ID over the store's limit.
func TestReplacesHostileCertID(t *testing.T) {
	c := newRaw(t, shared, "web")
	c.mustRegister()
	aki := shared.D.Set().CAs["issuing"].Certificate().SubjectKeyId
	serial := append([]byte{0x01}, make([]byte, 150)...)
	certID := base64.RawURLEncoding.EncodeToString(aki) + "." + base64.RawURLEncoding.EncodeToString(serial)
	r := c.post(c.url("newOrder"), map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": "replaces.acme.test"}},
		"replaces": certID}, jwsOpts{})
	if typ, detail := r.problem(t); r.status != http.StatusBadRequest || typ != acme.ProbMalformed {
		t.Fatalf("got %d %s (%s)", r.status, typ, detail)
	}
}

// TestFinalizeWithAccountKey: a CSR for the account's own key is
// refused (RFC 8555 section 11.1: the account key is only for ACME).
func TestFinalizeWithAccountKey(t *testing.T) {
	ok := &gateValidator{release: make(chan struct{}), view: validation.View{Perspective: "double", OK: true}}
	close(ok.release)
	c := gateNode(t, plugintest.NewMemDocStore(), ok)
	o := readyOrder(t, c, "acctkey.acme.test")
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"acctkey.acme.test"}}, c.key)
	if err != nil {
		t.Fatal(err)
	}
	r := c.post(o.Finalize, map[string]string{"csr": base64.RawURLEncoding.EncodeToString(der)}, jwsOpts{})
	if typ, detail := r.problem(t); r.status != http.StatusBadRequest || typ != acme.ProbBadCSR {
		t.Fatalf("got %d %s (%s)", r.status, typ, detail)
	}
	// The order is still ready: another CSR succeeds.
	csr, _ := csrFor(t, "", "acctkey.acme.test")
	if r := c.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{}); r.status != http.StatusOK {
		t.Fatalf("finalize: %d %s", r.status, r.body)
	}
}

// failFinalOrderPut fails writes of orders that leave processing.
type failFinalOrderPut struct {
	sdk.DocStore
	fail atomic.Bool
}

func (f *failFinalOrderPut) PutDoc(ctx context.Context, d *sdk.Doc) (int64, error) {
	if f.fail.Load() && d.Kind == acme.KindOrder && !strings.Contains(string(d.Data), `"status":"processing"`) {
		return 0, fmt.Errorf("lost the database: %w", sdk.ErrUnavailable)
	}
	return f.DocStore.PutDoc(ctx, d)
}

// TestOrderNotStuckProcessing: when the store fails as a finalize ends,
// the order does not read processing for ever (a client polls it until
// it gives up): past a bound it reads invalid.
func TestOrderNotStuckProcessing(t *testing.T) {
	docs := &failFinalOrderPut{DocStore: plugintest.NewMemDocStore()}
	var offset atomic.Int64
	ok := &gateValidator{release: make(chan struct{}), view: validation.View{Perspective: "double", OK: true}}
	close(ok.release)
	s, err := acme.New(acme.Options{CAs: shared.D.Set(), Docs: docs, BaseURL: "http://acme.nodes.test",
		Now:          func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
		Perspectives: func(*config.ACMEPolicy) (*acme.Perspectives, error) { return &acme.Perspectives{Primary: ok}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(s.Close)
	t.Cleanup(srv.Close)
	c := &rawClient{t: t, h: shared, hc: &http.Client{Transport: &switchTransport{host: srv.Listener.Addr().String()}, Timeout: 10 * time.Second}}
	c.key, c.alg = newRaw(t, shared, "web").key, "ES256"
	base := "http://acme.nodes.test/acme/issuing/web/"
	c.dir = map[string]any{"newNonce": base + "new-nonce", "newAccount": base + "new-account", "newOrder": base + "new-order"}
	c.mustRegister()
	o := readyOrder(t, c, "stuck.acme.test")
	docs.fail.Store(true)
	csr, _ := csrFor(t, "", "stuck.acme.test")
	if r := c.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{}); r.status != http.StatusServiceUnavailable {
		t.Fatalf("finalize with the store failing: %d %s", r.status, r.body)
	}
	docs.fail.Store(false)
	status := func() string {
		var got orderReply
		c.post(strings.TrimSuffix(o.Finalize, "/finalize"), nil, jwsOpts{getEmpty: true}).decode(t, &got)
		return got.Status
	}
	if st := status(); st != "processing" {
		t.Fatalf("order is %s right after, want processing", st)
	}
	offset.Store(int64(acme.MaxProcessing + time.Minute))
	if st := status(); st != "invalid" {
		t.Fatalf("order is %s past MaxProcessing, want invalid", st)
	}
}

// TestValidationsPerAccount: one account cannot hold every validation
// slot of a node: past its share it is told to retry, and another
// account's challenge still starts.
func TestValidationsPerAccount(t *testing.T) {
	docs := plugintest.NewMemDocStore()
	gate := &gateValidator{release: make(chan struct{}), view: validation.View{Perspective: "double", OK: true}}
	s, err := acme.New(acme.Options{CAs: shared.D.Set(), Docs: docs, BaseURL: "http://acme.nodes.test", MaxValidations: 8,
		Perspectives: func(*config.ACMEPolicy) (*acme.Perspectives, error) { return &acme.Perspectives{Primary: gate}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(gate.release) }) // before Close waits for the validations
	client := func() *rawClient {
		c := &rawClient{t: t, h: shared, hc: &http.Client{Transport: &switchTransport{host: srv.Listener.Addr().String()}, Timeout: 10 * time.Second}}
		c.key, c.alg = newRaw(t, shared, "web").key, "ES256"
		base := "http://acme.nodes.test/acme/issuing/web/"
		c.dir = map[string]any{"newNonce": base + "new-nonce", "newAccount": base + "new-account", "newOrder": base + "new-order"}
		c.mustRegister()
		return c
	}
	start := func(c *rawClient, name string) reply {
		o, r := c.newOrder(name)
		if r.status != http.StatusCreated {
			t.Fatalf("order: %d %s", r.status, r.body)
		}
		var a struct{ Challenges []struct{ URL string } }
		c.post(o.Authorizations[0], nil, jwsOpts{getEmpty: true}).decode(t, &a)
		return c.post(a.Challenges[0].URL, map[string]any{}, jwsOpts{})
	}
	greedy, other := client(), client()
	share := acme.ValidationsPerAccount(8)
	for i := range share {
		if r := start(greedy, fmt.Sprintf("g%d.acme.test", i)); r.status != http.StatusOK {
			t.Fatalf("validation %d of the greedy account: %d %s", i, r.status, r.body)
		}
	}
	r := start(greedy, "g-more.acme.test")
	if typ, _ := r.problem(t); r.status != http.StatusServiceUnavailable || typ != acme.ProbRateLimited || r.header.Get("Retry-After") == "" {
		t.Fatalf("validation past the account's share: %d %s", r.status, r.body)
	}
	if r := start(other, "o.acme.test"); r.status != http.StatusOK {
		t.Fatalf("another account's validation: %d %s", r.status, r.body)
	}
}
