package acme_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/pkid/pkid/core/acme"
)

// TestHostileJWS sends requests no client should and checks the RFC's
// error types.
func TestHostileJWS(t *testing.T) {
	h := shared
	a := newRaw(t, h, "web")
	a.mustRegister()
	b := newRaw(t, h, "web")
	b.mustRegister()
	newOrder := a.url("newOrder")
	order := map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": "x.acme.test"}}}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)

	t.Run("replayed nonce", func(t *testing.T) {
		n := a.nonce()
		if r := a.post(newOrder, order, jwsOpts{nonce: n}); r.status != http.StatusCreated {
			t.Fatalf("first use: %d %s", r.status, r.body)
		}
		r := a.post(newOrder, order, jwsOpts{nonce: n})
		if typ, _ := r.problem(t); typ != acme.ProbBadNonce || r.status != 400 {
			t.Fatalf("replay: %d %s", r.status, typ)
		}
		if r.header.Get("Replay-Nonce") == "" {
			t.Fatal("badNonce without a fresh Replay-Nonce")
		}
	})
	cases := []struct {
		name   string
		o      jwsOpts
		status int
		typ    string
	}{
		{"unknown nonce", jwsOpts{nonce: "AAAAAAAAAAAAAAAAAAAAAA"}, 400, acme.ProbBadNonce},
		{"wrong url", jwsOpts{url: a.url("newAccount")}, 403, acme.ProbUnauthorized},
		{"bad signature", jwsOpts{tamper: true}, 400, acme.ProbMalformed},
		{"kid of another account", jwsOpts{kid: b.kid}, 400, acme.ProbMalformed},
		{"both jwk and kid", jwsOpts{jwk: true, both: true}, 400, acme.ProbMalformed},
		{"jwk where kid is needed", jwsOpts{jwk: true}, 400, acme.ProbMalformed},
		{"unknown account", jwsOpts{kid: strings.TrimSuffix(a.kid, "/"+a.kid[strings.LastIndex(a.kid, "/")+1:]) + "/nope"}, 400, acme.ProbAccountDoesNotExist},
		{"alg for another key", jwsOpts{alg: "mismatch"}, 400, acme.ProbBadSignatureAlgorithm},
		{"HMAC alg", jwsOpts{alg: jose.HS256}, 400, acme.ProbBadSignatureAlgorithm},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r reply
			switch tc.o.alg {
			case jose.HS256:
				r = a.postRaw(newOrder, hmacJWS(t, a, newOrder), "application/jose+json")
			case "mismatch":
				r = a.postRaw(newOrder, mismatchJWS(t, a, newOrder, p384), "application/jose+json")
			default:
				r = a.post(newOrder, order, tc.o)
			}
			typ, detail := r.problem(t)
			if typ != tc.typ || r.status != tc.status {
				t.Fatalf("got %d %s (%s), want %d %s", r.status, typ, detail, tc.status, tc.typ)
			}
			if r.header.Get("Replay-Nonce") == "" {
				t.Fatal("an error without Replay-Nonce")
			}
		})
	}
	t.Run("post to another account", func(t *testing.T) {
		r := a.post(b.kid, map[string]any{"contact": []string{"mailto:x@acme.test"}}, jwsOpts{})
		if typ, _ := r.problem(t); typ != acme.ProbUnauthorized {
			t.Fatalf("got %d %s", r.status, typ)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		r := a.postRaw(newOrder, []byte(`{"protected":"`+strings.Repeat("A", acme.MaxRequestBytes)+`"}`), "application/jose+json")
		if typ, _ := r.problem(t); typ != acme.ProbMalformed || r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d %s", r.status, typ)
		}
	})
	t.Run("wrong content type", func(t *testing.T) {
		r := a.postRaw(newOrder, a.sign(newOrder, order, jwsOpts{}), "application/json")
		if typ, _ := r.problem(t); typ != acme.ProbMalformed || r.status != http.StatusUnsupportedMediaType {
			t.Fatalf("got %d %s", r.status, typ)
		}
	})
	t.Run("not a JWS", func(t *testing.T) {
		for _, body := range []string{"", "null", "[]", `{"protected":"e30","payload":"","signature":"AA"}`, `{"protected":"!!","payload":"","signature":"AA"}`} {
			r := a.postRaw(newOrder, []byte(body), "application/jose+json")
			if typ, _ := r.problem(t); r.status != 400 || (typ != acme.ProbMalformed && typ != acme.ProbBadSignatureAlgorithm) {
				t.Fatalf("%q: got %d %s", body, r.status, typ)
			}
		}
	})
	t.Run("GET of a POST resource", func(t *testing.T) {
		resp, err := a.hc.Get(newOrder)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})
}

// hmacJWS is a request signed with HS256, which accounts cannot use.
func hmacJWS(t *testing.T, c *rawClient, url string) []byte {
	prot, _ := json.Marshal(map[string]string{"alg": "HS256", "kid": c.kid, "nonce": c.nonce(), "url": url})
	p := base64.RawURLEncoding.EncodeToString(prot)
	pl := base64.RawURLEncoding.EncodeToString([]byte("{}"))
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte(p + "." + pl))
	out, _ := json.Marshal(map[string]string{"protected": p, "payload": pl, "signature": base64.RawURLEncoding.EncodeToString(m.Sum(nil))})
	return out
}

// mismatchJWS claims ES256 with a P-384 key.
func mismatchJWS(t *testing.T, c *rawClient, url string, key *ecdsa.PrivateKey) []byte {
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: key.Public()})
	prot, _ := json.Marshal(map[string]any{"alg": "ES256", "jwk": json.RawMessage(jwk), "nonce": c.nonce(), "url": url})
	out, _ := json.Marshal(map[string]string{"protected": base64.RawURLEncoding.EncodeToString(prot), "payload": "e30", "signature": base64.RawURLEncoding.EncodeToString(make([]byte, 64))})
	return out
}

// eabJWS is an external account binding over the client's key.
func eabJWS(t *testing.T, c *rawClient, kid string, key []byte) json.RawMessage {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: key},
		(&jose.SignerOptions{}).WithHeader("kid", kid).WithHeader("url", c.url("newAccount")))
	if err != nil {
		t.Fatal(err)
	}
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: c.key.Public()})
	obj, err := signer.Sign(jwk)
	if err != nil {
		t.Fatal(err)
	}
	return json.RawMessage(obj.FullSerialize())
}

func TestExternalAccountBinding(t *testing.T) {
	h := shared
	admin := &acme.Admin{Docs: h.Docs}
	k, err := admin.AddEAB(t.Context(), "issuing/eab", "test")
	if err != nil {
		t.Fatal(err)
	}
	c := newRaw(t, h, "eab")
	if meta := c.dir["meta"].(map[string]any); meta["externalAccountRequired"] != true {
		t.Fatalf("directory meta: %v", meta)
	}
	if r := c.register(nil); r.status != http.StatusForbidden {
		t.Fatalf("without EAB: %d %s", r.status, r.body)
	} else if typ, _ := r.problem(t); typ != acme.ProbExternalAccountRequired {
		t.Fatalf("without EAB: %s", typ)
	}
	wrong := append([]byte{}, k.Key...)
	wrong[0] ^= 1
	if r := c.register(map[string]any{"externalAccountBinding": eabJWS(t, c, k.ID, wrong)}); r.status != http.StatusForbidden {
		t.Fatalf("wrong MAC: %d %s", r.status, r.body)
	} else if typ, _ := r.problem(t); typ != acme.ProbUnauthorized {
		t.Fatalf("wrong MAC: %s", typ)
	}
	if r := c.register(map[string]any{"externalAccountBinding": eabJWS(t, c, "eab-unknown", k.Key)}); r.status != http.StatusForbidden {
		t.Fatalf("unknown kid: %d %s", r.status, r.body)
	}
	if r := c.register(map[string]any{"externalAccountBinding": eabJWS(t, c, k.ID, k.Key)}); r.status != http.StatusCreated {
		t.Fatalf("with EAB: %d %s", r.status, r.body)
	}
	// The key is bound now: another account cannot use it.
	d := newRaw(t, h, "eab")
	if r := d.register(map[string]any{"externalAccountBinding": eabJWS(t, d, k.ID, k.Key)}); r.status != http.StatusForbidden {
		t.Fatalf("reused EAB key: %d %s", r.status, r.body)
	}
	// A revoked key is refused.
	k2, _ := admin.AddEAB(t.Context(), "", "")
	if err := admin.RevokeEAB(t.Context(), k2.ID); err != nil {
		t.Fatal(err)
	}
	if r := d.register(map[string]any{"externalAccountBinding": eabJWS(t, d, k2.ID, k2.Key)}); r.status != http.StatusForbidden {
		t.Fatalf("revoked EAB key: %d %s", r.status, r.body)
	}
	keys, err := admin.ListEAB(t.Context())
	if err != nil || len(keys) < 2 {
		t.Fatalf("ListEAB: %v %v", keys, err)
	}
	for _, lk := range keys {
		if lk.Key != nil {
			t.Fatal("ListEAB returned a secret")
		}
	}
}

func TestOrderPolicy(t *testing.T) {
	h := shared
	c := newRaw(t, h, "web")
	c.mustRegister()
	t.Run("outside the profile allowlist", func(t *testing.T) {
		_, r := c.newOrder("www.example.com")
		if typ, detail := r.problem(t); typ != acme.ProbRejectedIdentifier || !strings.Contains(detail, "www.example.com") {
			t.Fatalf("got %d %s %s", r.status, typ, detail)
		}
	})
	t.Run("ip not allowed", func(t *testing.T) {
		r := c.post(c.url("newOrder"), map[string]any{"identifiers": []map[string]string{{"type": "ip", "value": "127.0.0.1"}}}, jwsOpts{})
		if typ, _ := r.problem(t); typ != acme.ProbRejectedIdentifier {
			t.Fatalf("got %d %s", r.status, typ)
		}
	})
	t.Run("unsupported type", func(t *testing.T) {
		r := c.post(c.url("newOrder"), map[string]any{"identifiers": []map[string]string{{"type": "email", "value": "a@acme.test"}}}, jwsOpts{})
		if typ, _ := r.problem(t); typ != acme.ProbUnsupportedIdentifier {
			t.Fatalf("got %d %s", r.status, typ)
		}
	})
	t.Run("not a name", func(t *testing.T) {
		_, r := c.newOrder("bad_name!.acme.test")
		if typ, _ := r.problem(t); typ != acme.ProbRejectedIdentifier {
			t.Fatalf("got %d %s", r.status, typ)
		}
	})
	t.Run("orders list", func(t *testing.T) {
		o, _ := c.newOrder("listed.acme.test")
		var acct struct{ Orders string }
		c.post(c.kid, nil, jwsOpts{getEmpty: true}).decode(t, &acct)
		var list struct{ Orders []string }
		c.post(acct.Orders, nil, jwsOpts{getEmpty: true}).decode(t, &list)
		if !slices.Contains(list.Orders, strings.TrimSuffix(o.Finalize, "/finalize")) {
			t.Fatalf("orders %v lack the new order", list.Orders)
		}
		d := newRaw(t, h, "web")
		d.mustRegister()
		if r := d.post(acct.Orders, nil, jwsOpts{getEmpty: true}); r.status != 403 {
			t.Fatalf("another account's orders: %d", r.status)
		}
	})
	t.Run("finalize before ready", func(t *testing.T) {
		o, _ := c.newOrder("early.acme.test")
		csr, _ := csrFor(t, "early.acme.test", "early.acme.test")
		r := c.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{})
		if typ, _ := r.problem(t); typ != acme.ProbOrderNotReady || r.status != 403 {
			t.Fatalf("got %d %s", r.status, typ)
		}
	})
	t.Run("order of another account", func(t *testing.T) {
		o, _ := c.newOrder("mine.acme.test")
		d := newRaw(t, h, "web")
		d.mustRegister()
		r := d.post(strings.TrimSuffix(o.Finalize, "/finalize"), nil, jwsOpts{getEmpty: true})
		if typ, _ := r.problem(t); typ != acme.ProbUnauthorized {
			t.Fatalf("got %d %s", r.status, typ)
		}
	})
}

func TestRateLimit(t *testing.T) {
	h := shared
	c := newRaw(t, h, "limited")
	c.mustRegister()
	if _, r := c.newOrder("limited.example.org"); r.status != http.StatusCreated {
		t.Fatalf("first order: %d %s", r.status, r.body)
	}
	_, r := c.newOrder("limited.example.org")
	if typ, _ := r.problem(t); typ != acme.ProbRateLimited || r.status != http.StatusTooManyRequests {
		t.Fatalf("second order: %d %s", r.status, typ)
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 3600 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Another name is not limited.
	if _, r := c.newOrder("other.example.org"); r.status != http.StatusCreated {
		t.Fatalf("other name: %d %s", r.status, r.body)
	}
	// The account's limit (4 new-order requests per window, refused ones
	// included) is reached with the next two.
	if _, r := c.newOrder("third.example.org"); r.status != http.StatusCreated {
		t.Fatalf("third name: %d %s", r.status, r.body)
	}
	_, r = c.newOrder("fourth.example.org")
	if typ, detail := r.problem(t); typ != acme.ProbRateLimited || !strings.Contains(detail, "this account") || r.header.Get("Retry-After") == "" {
		t.Fatalf("account limit: %d %s %s", r.status, typ, detail)
	}
}

// TestFinalizeCSR checks the CSR against the order and issues through
// the profile.
func TestFinalizeCSR(t *testing.T) {
	legoPorts.Lock()
	defer legoPorts.Unlock()
	h := shared
	c := newRaw(t, h, "web")
	c.mustRegister()
	o, r := c.newOrder("fin.acme.test")
	if r.status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	c.solveHTTP01(o)
	bad := []struct {
		name string
		cn   string
		sans []string
	}{
		{"extra name", "", []string{"fin.acme.test", "other.acme.test"}},
		{"missing name", "", []string{"nope.acme.test"}},
		{"CN outside the order", "evil.acme.test", []string{"fin.acme.test"}},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			csr, _ := csrFor(t, b.cn, b.sans...)
			r := c.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{})
			if typ, _ := r.problem(t); typ != acme.ProbBadCSR {
				t.Fatalf("got %d %s", r.status, typ)
			}
		})
	}
	r = c.post(o.Finalize, map[string]string{"csr": "!!"}, jwsOpts{})
	if typ, _ := r.problem(t); typ != acme.ProbBadCSR {
		t.Fatalf("not base64: %d %s", r.status, typ)
	}
	csr, _ := csrFor(t, "fin.acme.test", "fin.acme.test")
	r = c.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{})
	if r.status != http.StatusOK {
		t.Fatalf("finalize: %d %s", r.status, r.body)
	}
	var done orderReply
	r.decode(t, &done)
	if done.Status != "valid" || done.Certificate == "" {
		t.Fatalf("order after finalize: %s", r.body)
	}
	cr := c.post(done.Certificate, nil, jwsOpts{getEmpty: true})
	if cr.status != 200 || cr.header.Get("Content-Type") != "application/pem-certificate-chain" {
		t.Fatalf("certificate: %d %s", cr.status, cr.header)
	}
	verifyChain(t, h, cr.body, "fin.acme.test")
	// The alternate chain (cross-signed by another root) is linked.
	alt := done.Certificate + "/1"
	if links := cr.header.Values("Link"); !slices.Contains(links, "<"+alt+`>;rel="alternate"`) {
		t.Fatalf("no alternate link in %q", links)
	}
	ar := c.post(alt, nil, jwsOpts{getEmpty: true})
	if ar.status != 200 {
		t.Fatalf("alternate chain: %d %s", ar.status, ar.body)
	}
	verifyChainRoot(t, filepath.Join(h.Dir, "alt-root.pem"), ar.body, "fin.acme.test")
	if r := c.post(done.Certificate+"/2", nil, jwsOpts{getEmpty: true}); r.status != 404 {
		t.Fatalf("chain 2: %d", r.status)
	}
	// Finalizing again: the order is valid, not ready.
	r = c.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{})
	if typ, _ := r.problem(t); typ != acme.ProbOrderNotReady {
		t.Fatalf("second finalize: %d %s", r.status, typ)
	}
	// Another account cannot download it.
	d := newRaw(t, h, "web")
	d.mustRegister()
	if r := d.post(done.Certificate, nil, jwsOpts{getEmpty: true}); r.status != 403 {
		t.Fatalf("foreign download: %d", r.status)
	}
}

// TestDefaultDirectory: /acme/directory is the default CA's "acme"
// profile; unknown directories and resources are 404 problems.
func TestDefaultDirectory(t *testing.T) {
	hc := shared.Client()
	resp, err := hc.Get(shared.URL + "/acme/directory")
	if err != nil {
		t.Fatal(err)
	}
	var dir map[string]any
	json.NewDecoder(resp.Body).Decode(&dir)
	resp.Body.Close()
	if resp.StatusCode != 200 || dir["newNonce"] != shared.URL+"/acme/issuing/acme/new-nonce" || dir["renewalInfo"] != shared.URL+"/acme/issuing/acme/renewal-info" {
		t.Fatalf("directory: %d %v", resp.StatusCode, dir)
	}
	for _, p := range []string{"/acme/issuing/server/directory", "/acme/nope/acme/directory", "/acme/issuing/web/bogus", "/acme/x"} {
		resp, err := hc.Get(shared.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		ct := resp.Header.Get("Content-Type")
		resp.Body.Close()
		if resp.StatusCode != 404 && resp.StatusCode != 405 || ct != "application/problem+json" {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, ct)
		}
	}
	resp, err = hc.Get(shared.URL + "/acme/issuing/web/renewal-info/!!")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad certID: %d", resp.StatusCode)
	}
}

// TestConcurrentNewAccount: racing newAccount requests with one key make
// one account.
func TestConcurrentNewAccount(t *testing.T) {
	c := newRaw(t, shared, "web")
	var bodies [][]byte
	for range 6 {
		bodies = append(bodies, c.sign(c.url("newAccount"), map[string]any{"termsOfServiceAgreed": true}, jwsOpts{jwk: true}))
	}
	locs := make([]string, len(bodies))
	codes := make([]int, len(bodies))
	var wg sync.WaitGroup
	for i, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, c.url("newAccount"), bytesReader(b))
			req.Header.Set("Content-Type", "application/jose+json")
			resp, err := c.hc.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			locs[i], codes[i] = resp.Header.Get("Location"), resp.StatusCode
		}()
	}
	wg.Wait()
	created := 0
	for i := range locs {
		if codes[i] == http.StatusCreated {
			created++
		}
		if locs[i] == "" || locs[i] != locs[0] {
			t.Fatalf("answers %v %v", codes, locs)
		}
	}
	if created != 1 {
		t.Fatalf("%d accounts created: %v", created, codes)
	}
}
