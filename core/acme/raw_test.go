package acme_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// rawClient speaks ACME by hand so tests can send what real clients
// never do.
type rawClient struct {
	t   testing.TB
	h   *harness
	dir map[string]any
	key crypto.Signer
	alg jose.SignatureAlgorithm
	kid string
	hc  *http.Client
}

func newRaw(t testing.TB, h *harness, profile string) *rawClient {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c := &rawClient{t: t, h: h, key: key, alg: jose.ES256, hc: h.Client()}
	resp, err := c.hc.Get(h.Directory(profile))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&c.dir); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *rawClient) url(name string) string { return c.dir[name].(string) }

func (c *rawClient) nonce() string {
	c.t.Helper()
	resp, err := c.hc.Head(c.url("newNonce"))
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	n := resp.Header.Get("Replay-Nonce")
	if n == "" {
		c.t.Fatal("newNonce gave no Replay-Nonce")
	}
	return n
}

// jwsOpts tweaks one request.
type jwsOpts struct {
	nonce    string // "" fetches one
	url      string // "" the target
	jwk      bool   // embed the jwk instead of kid
	both     bool   // jwk and kid
	kid      string // overrides c.kid
	key      crypto.Signer
	alg      jose.SignatureAlgorithm
	tamper   bool // flip a payload bit after signing
	getEmpty bool // POST-as-GET
}

// sign builds a flattened JWS.
func (c *rawClient) sign(target string, payload any, o jwsOpts) []byte {
	c.t.Helper()
	key, alg := c.key, c.alg
	if o.key != nil {
		key = o.key
	}
	if o.alg != "" {
		alg = o.alg
	}
	if o.nonce == "" {
		o.nonce = c.nonce()
	}
	if o.url == "" {
		o.url = target
	}
	kid := c.kid
	if o.kid != "" {
		kid = o.kid
	}
	opts := (&jose.SignerOptions{}).WithHeader("nonce", o.nonce).WithHeader("url", o.url)
	var sk jose.SigningKey
	switch {
	case o.jwk || kid == "":
		opts.EmbedJWK = true
		sk = jose.SigningKey{Algorithm: alg, Key: key}
		if o.both {
			opts = opts.WithHeader("kid", c.kid)
		}
	default:
		sk = jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}
	}
	signer, err := jose.NewSigner(sk, opts)
	if err != nil {
		c.t.Fatal(err)
	}
	var body []byte
	if !o.getEmpty {
		if body, err = json.Marshal(payload); err != nil {
			c.t.Fatal(err)
		}
	}
	obj, err := signer.Sign(body)
	if err != nil {
		c.t.Fatal(err)
	}
	out := []byte(obj.FullSerialize())
	var m map[string]string
	json.Unmarshal(out, &m)
	if _, ok := m["payload"]; !ok {
		m["payload"] = "" // go-jose leaves an empty payload out
	}
	if o.tamper {
		m["payload"] = base64.RawURLEncoding.EncodeToString(append(body, ' '))
	}
	out, _ = json.Marshal(m)
	return out
}

// reply is an answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// problem decodes a problem document.
func (r reply) problem(t testing.TB) (typ, detail string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d, Content-Type %q, want a problem: %s", r.status, ct, r.body)
	}
	var p struct{ Type, Detail string }
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(p.Type, "urn:ietf:params:acme:error:"), p.Detail
}

func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
}

func (c *rawClient) postRaw(target string, body []byte, contentType string) reply {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return reply{resp.StatusCode, resp.Header, b}
}

func (c *rawClient) post(target string, payload any, o jwsOpts) reply {
	c.t.Helper()
	return c.postRaw(target, c.sign(target, payload, o), "application/jose+json")
}

// register creates the account (kid set).
func (c *rawClient) register(extra map[string]any) reply {
	c.t.Helper()
	p := map[string]any{"termsOfServiceAgreed": true}
	for k, v := range extra {
		p[k] = v
	}
	r := c.post(c.url("newAccount"), p, jwsOpts{jwk: true})
	if r.status == http.StatusCreated || r.status == http.StatusOK {
		c.kid = r.header.Get("Location")
	}
	return r
}

func (c *rawClient) mustRegister() {
	c.t.Helper()
	if r := c.register(nil); r.status != http.StatusCreated {
		c.t.Fatalf("newAccount: %d %s", r.status, r.body)
	}
}

// orderReply is an order object.
type orderReply struct {
	Status         string   `json:"status"`
	Authorizations []string `json:"authorizations"`
	Finalize       string   `json:"finalize"`
	Certificate    string   `json:"certificate"`
	Replaces       string   `json:"replaces"`
}

func (c *rawClient) newOrder(names ...string) (orderReply, reply) {
	c.t.Helper()
	var ids []map[string]string
	for _, n := range names {
		ids = append(ids, map[string]string{"type": "dns", "value": n})
	}
	r := c.post(c.url("newOrder"), map[string]any{"identifiers": ids}, jwsOpts{})
	var o orderReply
	if r.status == http.StatusCreated {
		r.decode(c.t, &o)
	}
	return o, r
}

// thumb is the account key's thumbprint.
func (c *rawClient) thumb() string {
	jwk := jose.JSONWebKey{Key: c.key.Public()}
	tp, _ := jwk.Thumbprint(crypto.SHA256)
	return base64.RawURLEncoding.EncodeToString(tp)
}

// solveHTTP01 answers every http-01 challenge of the order from a
// server of the test's own on the validation port and waits until the
// order is ready (or fails the test).
func (c *rawClient) solveHTTP01(o orderReply) {
	c.t.Helper()
	type chall struct{ Type, URL, Token, Status string }
	var authz []struct {
		Identifier struct{ Value string }
		Challenges []chall
	}
	tokens := map[string]string{}
	var urls []string
	for _, u := range o.Authorizations {
		r := c.post(u, nil, jwsOpts{getEmpty: true})
		var a struct {
			Identifier struct{ Value string }
			Challenges []chall
		}
		r.decode(c.t, &a)
		authz = append(authz, a)
		for _, ch := range a.Challenges {
			if ch.Type == "http-01" {
				tokens[ch.Token] = ch.Token + "." + c.thumb()
				urls = append(urls, ch.URL)
				c.h.DNS.SetA(a.Identifier.Value, "127.0.0.1")
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(c.h.HTTPPort))
	if err != nil {
		c.t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ka, ok := tokens[strings.TrimPrefix(r.URL.Path, "/.well-known/acme-challenge/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, ka)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	for _, u := range urls {
		if r := c.post(u, map[string]any{}, jwsOpts{}); r.status != http.StatusOK {
			c.t.Fatalf("challenge: %d %s", r.status, r.body)
		}
	}
	c.waitOrder(o, "ready")
}

// waitOrder polls the order (its finalize URL without /finalize) until
// it has status want.
func (c *rawClient) waitOrder(o orderReply, want string) orderReply {
	c.t.Helper()
	u := strings.TrimSuffix(o.Finalize, "/finalize")
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := c.post(u, nil, jwsOpts{getEmpty: true})
		var got orderReply
		r.decode(c.t, &got)
		if got.Status == want {
			return got
		}
		if got.Status == "invalid" || time.Now().After(deadline) {
			c.t.Fatalf("order is %s, want %s: %s", got.Status, want, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// csr makes a CSR for names with a fresh key.
func csrFor(t testing.TB, cn string, names ...string) (string, crypto.Signer) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(der), key
}

var _ = fmt.Sprint

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
