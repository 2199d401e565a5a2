package acme_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/http01"
	pkidacme "github.com/pkid/pkid/core/acme"
)

// certID is RFC 9773's identifier, computed here independently.
func certID(c *x509.Certificate) string {
	ser := c.SerialNumber.Bytes()
	if ser[0]&0x80 != 0 {
		ser = append([]byte{0}, ser...)
	}
	return base64.RawURLEncoding.EncodeToString(c.AuthorityKeyId) + "." + base64.RawURLEncoding.EncodeToString(ser)
}

func leafOf(t *testing.T, chain []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(chain)
	if b == nil {
		t.Fatal("no PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLifecycle: renewal information, a replacing order, key rollover,
// revocation by the account, and deactivation, with lego.
func TestLifecycle(t *testing.T) {
	legoPorts.Lock()
	defer legoPorts.Unlock()
	h := shared
	ctx := context.Background()
	names := []string{"life.acme.test"}
	h.DNS.SetA(names[0], "127.0.0.1")
	c, u := newLego(t, h, "web", true)
	if err := c.Challenge.SetHTTP01Provider(http01.NewProviderServer("127.0.0.1", strconv.Itoa(h.HTTPPort))); err != nil {
		t.Fatal(err)
	}
	res, err := c.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: names, Bundle: true, PrivateKey: certKey()})
	if err != nil {
		t.Fatalf("obtain: %v", err)
	}
	leaf := verifyChain(t, h, res.Certificate, names...)

	ri, err := c.Certificate.GetRenewalInfo(ctx, leaf)
	if err != nil {
		t.Fatalf("renewal info: %v", err)
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	if want := leaf.NotBefore.Add(life * 2 / 3); ri.SuggestedWindow.Start.Sub(want).Abs() > 2*time.Second {
		t.Fatalf("window start %v, want about %v", ri.SuggestedWindow.Start, want)
	}

	// A replacing order (RFC 9773), then a second one is refused.
	res2, err := c.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: names, Bundle: true, PrivateKey: certKey(), ReplacesCertID: certID(leaf)})
	if err != nil {
		t.Fatalf("replacing order: %v", err)
	}
	// lego retries an order refused as alreadyReplaced without replaces
	// (RFC 9773 section 5), so the store shows what the server did.
	if _, err = c.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: names, Bundle: true, PrivateKey: certKey(), ReplacesCertID: certID(leaf)}); err != nil {
		t.Fatalf("second replacing order: %v", err)
	}
	orders, err := (&pkidacme.Admin{Docs: h.Docs}).Orders(ctx, "issuing/web")
	if err != nil {
		t.Fatal(err)
	}
	replacing := 0
	for _, o := range orders {
		if o.Replaces == certID(leaf) {
			replacing++
		}
	}
	if replacing != 1 {
		t.Fatalf("%d orders replace %s, want 1", replacing, certID(leaf))
	}
	var pd *acme.ProblemDetails

	// Key rollover: the new key works, the old one no longer does.
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := c.Registration.KeyRollover(ctx, newKey); err != nil {
		t.Fatalf("key rollover: %v", err)
	}
	u.key = newKey
	if _, err := c.Registration.QueryRegistration(ctx); err != nil {
		t.Fatalf("after rollover: %v", err)
	}

	// Revocation by the account; renewal info then says "now".
	leaf2 := leafOf(t, res2.Certificate)
	if err := c.Certificate.Revoke(ctx, res2.Certificate); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	ri, err = c.Certificate.GetRenewalInfo(ctx, leaf2)
	if err != nil {
		t.Fatal(err)
	}
	if !ri.SuggestedWindow.End.Before(time.Now()) {
		t.Fatalf("revoked certificate's window %v is not over", ri.SuggestedWindow)
	}
	err = c.Certificate.Revoke(ctx, res2.Certificate)
	if !errors.As(err, &pd) || pd.Type != pkidacme.ErrorNS+pkidacme.ProbAlreadyRevoked {
		t.Fatalf("second revoke: %v", err)
	}

	// Deactivation: the account is refused afterwards.
	if err := c.Registration.DeleteRegistration(ctx); err != nil {
		t.Fatalf("deactivate: %v", err)
	}
	if _, err := c.Registration.QueryRegistration(ctx); !errors.As(err, &pd) || pd.Type != pkidacme.ErrorNS+pkidacme.ProbUnauthorized {
		t.Fatalf("deactivated account: %v", err)
	}
}

// TestRevokeByCertificateKey revokes with the certificate's own key (jwk),
// and refuses a stranger's key.
func TestRevokeByCertificateKey(t *testing.T) {
	legoPorts.Lock()
	defer legoPorts.Unlock()
	h := shared
	c := newRaw(t, h, "web")
	c.mustRegister()
	o, _ := c.newOrder("rev.acme.test")
	c.solveHTTP01(o)
	csr, certKey := csrFor(t, "", "rev.acme.test")
	r := c.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{})
	var done orderReply
	r.decode(t, &done)
	chain := c.post(done.Certificate, nil, jwsOpts{getEmpty: true}).body
	leaf := leafOf(t, chain)
	payload := map[string]any{"certificate": base64.RawURLEncoding.EncodeToString(leaf.Raw), "reason": 1}

	stranger := newRaw(t, h, "web")
	if r := stranger.post(stranger.url("revokeCert"), payload, jwsOpts{jwk: true}); r.status != http.StatusForbidden {
		t.Fatalf("stranger's key: %d %s", r.status, r.body)
	}
	if r := c.post(c.url("revokeCert"), map[string]any{"certificate": payload["certificate"], "reason": 7}, jwsOpts{}); r.status != 400 {
		t.Fatalf("reason 7: %d %s", r.status, r.body)
	} else if typ, _ := r.problem(t); typ != pkidacme.ProbBadRevocationReason {
		t.Fatalf("reason 7: %s", typ)
	}
	byKey := &rawClient{t: t, h: h, dir: c.dir, key: certKey, alg: "ES256", hc: c.hc}
	if r := byKey.post(c.url("revokeCert"), payload, jwsOpts{jwk: true}); r.status != http.StatusOK {
		t.Fatalf("revoke by certificate key: %d %s", r.status, r.body)
	}
	rec, err := h.D.Set().CAs["issuing"].Store().Get(t.Context(), leaf.SerialNumber.String(), strings.ToLower(hexKeyID(leaf.AuthorityKeyId)))
	if err != nil || rec.Status != "revoked" || rec.RevocationReason != 1 {
		t.Fatalf("store record: %+v %v", rec, err)
	}
}

func hexKeyID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
