package bundle

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// TestFlavorsDisagree: with the new root cross-signed by the old one and a
// weighted platform that only trusts the old root, ubiquitous takes the
// longer chain to the old root and optimal the short one to the new root.
func TestFlavorsDisagree(t *testing.T) {
	p := newCrossPKI(t)
	b := &Bundler{Pool: p.pool(t, p.platforms)}
	req := Request{Chain: []*x509.Certificate{p.leaf.cert}}

	req.Flavor = Optimal
	opt := mustBundle(t, b, req)
	req.Flavor = Ubiquitous
	ubi := mustBundle(t, b, req)

	wantOpt := []string{"www.example.com (by Issuing CA)", "Issuing CA (by New Root)"}
	wantUbi := []string{"www.example.com (by Issuing CA)", "Issuing CA (by New Root)", "New Root (by Old Root)"}
	if got := names(opt.Chain); !reflect.DeepEqual(got, wantOpt) {
		t.Errorf("optimal chain = %q, want %q", got, wantOpt)
	}
	if got := names(ubi.Chain); !reflect.DeepEqual(got, wantUbi) {
		t.Errorf("ubiquitous chain = %q, want %q", got, wantUbi)
	}
	if !opt.Root.Equal(p.newRoot.cert) || !ubi.Root.Equal(p.oldRoot.cert) {
		t.Errorf("roots: optimal %s, ubiquitous %s", opt.Root.Subject, ubi.Root.Subject)
	}
	// The optimal chain is not trusted by the weighted legacy platform.
	if !reflect.DeepEqual(opt.Status.Untrusted, []string{"legacy"}) || opt.Status.Code != BitNotUbiquitous {
		t.Errorf("optimal status = %+v", opt.Status)
	}
	if len(ubi.Status.Untrusted) != 0 || ubi.Status.Code != 0 || ubi.Status.Messages != nil {
		t.Errorf("ubiquitous status = %+v", ubi.Status)
	}
	if !opt.Status.Rebundled || !ubi.Status.Rebundled {
		t.Error("a chain grown from a lone leaf is rebundled")
	}

	// Without the legacy platform's weight the short chain wins both ways.
	light := append([]sdk.Platform(nil), p.platforms...)
	light[1].Weight = 0
	b0 := &Bundler{Pool: p.pool(t, light)}
	ubi0 := mustBundle(t, b0, Request{Chain: []*x509.Certificate{p.leaf.cert}})
	if got := names(ubi0.Chain); !reflect.DeepEqual(got, wantOpt) {
		t.Errorf("ubiquitous with an unweighted legacy platform = %q, want %q", got, wantOpt)
	}
	// A platform lacking the root with no weight is listed but does not
	// set the not-ubiquitous bit.
	if !reflect.DeepEqual(ubi0.Status.Untrusted, []string{"legacy"}) || ubi0.Status.Code != 0 {
		t.Errorf("status with an unweighted untrusting platform = %+v", ubi0.Status)
	}
}

// TestAlternatives: an expired copy of the intermediate and a
// same-subject intermediate with another key are in the pool first; the
// bundler passes over both to the valid path.
func TestAlternatives(t *testing.T) {
	p := newCrossPKI(t)
	expired := issue(t, certSpec{cn: "Issuing CA", org: "Test Trust", ca: true, key: p.inter.key,
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)}, p.newRoot)
	otherKey := issue(t, certSpec{cn: "Issuing CA", org: "Test Trust", ca: true}, p.newRoot)
	pool, err := NewPool([]sdk.TrustCert{
		{DER: expired.cert.Raw}, {DER: otherKey.cert.Raw},
		{DER: p.newRoot.cert.Raw, Root: true}, {DER: p.inter.cert.Raw},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bun := mustBundle(t, &Bundler{Pool: pool}, Request{Chain: []*x509.Certificate{p.leaf.cert}, Flavor: Optimal})
	if len(bun.Chain) != 2 || !bun.Chain[1].Equal(p.inter.cert) {
		t.Fatalf("chain = %q", names(bun.Chain))
	}
	if !reflect.DeepEqual(bun.Status.Messages, []string{msgNoMetadata}) || bun.Status.Code != 0 {
		t.Errorf("no metadata: status = %+v, want only the message", bun.Status)
	}
	// Only the expired copy: Go's reason, CFSSL's code for it.
	pool2, _ := NewPool([]sdk.TrustCert{{DER: expired.cert.Raw}, {DER: p.newRoot.cert.Raw, Root: true}}, nil)
	_, err = (&Bundler{Pool: pool2}).Bundle(context.Background(), Request{Chain: []*x509.Certificate{p.leaf.cert}})
	if CodeOf(err) != CodeCertInvalid+int(x509.Expired) {
		t.Errorf("expired only: %v (code %d), want %d", err, CodeOf(err), CodeCertInvalid+int(x509.Expired))
	}
}

func TestRefusals(t *testing.T) {
	p := newCrossPKI(t)
	b := &Bundler{Pool: p.pool(t, p.platforms)}
	stranger := issue(t, certSpec{cn: "Stranger CA", ca: true}, nil)
	orphan := issue(t, certSpec{cn: "orphan.example.com", dns: []string{"orphan.example.com"}}, stranger)
	self := issue(t, certSpec{cn: "self.example.com"}, nil)
	cases := []struct {
		name string
		req  Request
		code int
	}{
		{"key mismatch", Request{Chain: []*x509.Certificate{p.leaf.cert}, Key: p.inter.key}, CodeKeyMismatch},
		{"key of another type", Request{Chain: []*x509.Certificate{p.leaf.cert}, Key: rsaKey(t, 2048)}, CodeKeyMismatch},
		{"key not a private key", Request{Chain: []*x509.Certificate{p.leaf.cert}, Key: "secret"}, CodeKeyUnsupported},
		{"self-signed leaf", Request{Chain: []*x509.Certificate{self.cert}}, CodeSelfSigned},
		{"unknown authority", Request{Chain: []*x509.Certificate{orphan.cert, stranger.cert}}, CodeUnknownAuthority},
		{"name mismatch", Request{Chain: []*x509.Certificate{p.leaf.cert}, Hostname: "evil.example.net"}, CodeVerifyFailed},
		{"ip mismatch", Request{Chain: []*x509.Certificate{p.leaf.cert}, IP: net.ParseIP("127.0.0.1")}, CodeVerifyFailed},
		{"force, broken chain", Request{Chain: []*x509.Certificate{p.leaf.cert, p.oldRoot.cert}, Flavor: Force}, CodeVerifyFailed},
		{"no leaf", Request{}, CodeBadRequest},
		{"nil certificate", Request{Chain: []*x509.Certificate{p.leaf.cert, nil}}, CodeBadRequest},
		{"expired at Now", Request{Chain: []*x509.Certificate{p.leaf.cert}, Now: time.Now().Add(2 * 365 * 24 * time.Hour)}, CodeCertInvalid + int(x509.Expired)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Bundle(context.Background(), tc.req)
			var be *Error
			if !errors.As(err, &be) || be.Code != tc.code {
				t.Fatalf("err = %v (code %d), want code %d", err, CodeOf(err), tc.code)
			}
			if strings.Contains(be.Error(), "\n") || be.Error() == "" {
				t.Errorf("message %q is not one line", be.Error())
			}
		})
	}
	// An intermediate configured as a trust anchor has nothing to bundle.
	anchorPool, _ := NewPool([]sdk.TrustCert{{DER: p.inter.cert.Raw, Root: true}}, nil)
	if _, err := (&Bundler{Pool: anchorPool}).Bundle(context.Background(), Request{Chain: []*x509.Certificate{p.inter.cert}}); CodeOf(err) != CodeVerifyFailed {
		t.Errorf("leaf is a pool root: %v", err)
	}
	// No pool: nothing is trusted, force still works.
	if _, err := (&Bundler{}).Bundle(context.Background(), Request{Chain: []*x509.Certificate{p.leaf.cert}}); CodeOf(err) != CodeUnknownAuthority {
		t.Errorf("no pool: %v", err)
	}
	if _, err := (&Bundler{}).Bundle(context.Background(), Request{Chain: []*x509.Certificate{p.leaf.cert, p.inter.cert}, Flavor: Force}); err != nil {
		t.Errorf("no pool, force: %v", err)
	}
	// The right key is accepted and echoed in CFSSL's encoding.
	bun := mustBundle(t, b, Request{Chain: []*x509.Certificate{p.leaf.cert}, Key: p.leaf.key})
	if !strings.HasPrefix(bun.keyString(), "-----BEGIN EC PRIVATE KEY-----") {
		t.Errorf("key = %q", bun.keyString())
	}
	// A cancelled context stops the build.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Bundle(ctx, Request{Chain: []*x509.Certificate{p.leaf.cert}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestForce: force keeps the given chain (reversed if given root first),
// verifies only its signatures and reports no root.
func TestForce(t *testing.T) {
	p := newCrossPKI(t)
	b := &Bundler{Pool: p.pool(t, nil)}
	bun := mustBundle(t, b, Request{Chain: []*x509.Certificate{p.oldRoot.cert, p.cross.cert, p.inter.cert, p.leaf.cert}, Flavor: Force})
	if got := names(bun.Chain); len(got) != 4 || !bun.Chain[0].Equal(p.leaf.cert) || bun.Root != nil {
		t.Fatalf("force chain = %q, root %v", got, bun.Root)
	}
	// Reversed input is compared after reordering, as CFSSL: the same
	// chain, so not rebundled (checked in the JSON below).
	js, err := json.Marshal(bun)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	st := m["status"].(map[string]any)
	if m["root"] != "" || st["untrusted_root_stores"] != nil || st["rebundled"] != false {
		t.Errorf("force output: root %q, status %v", m["root"], st)
	}
}

// TestLimitsBound: a pool of many mutually cross-signed CAs with the same
// name gives a bounded search.
func TestLimitsBound(t *testing.T) {
	root := issue(t, certSpec{cn: "Root", ca: true}, nil)
	var tcs []sdk.TrustCert
	tcs = append(tcs, sdk.TrustCert{DER: root.cert.Raw, Root: true})
	// Eight keys for "Mesh CA"; each key certified by every other and by
	// the root: paths multiply quickly.
	keys := make([]*node, 8)
	for i := range keys {
		keys[i] = issue(t, certSpec{cn: "Mesh CA", ca: true}, root)
		tcs = append(tcs, sdk.TrustCert{DER: keys[i].cert.Raw})
	}
	for i := range keys {
		for j := range keys {
			if i != j {
				x := issue(t, certSpec{cn: "Mesh CA", ca: true, key: keys[i].key}, keys[j])
				tcs = append(tcs, sdk.TrustCert{DER: x.cert.Raw})
			}
		}
	}
	leaf := issue(t, certSpec{cn: "leaf.example.com"}, keys[0])
	pool, err := NewPool(tcs, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	bun := mustBundle(t, &Bundler{Pool: pool, Limits: Limits{MaxCandidates: 16, MaxSigChecks: 200}}, Request{Chain: []*x509.Certificate{leaf.cert}, Flavor: Optimal})
	if len(bun.Chain) != 2 {
		t.Errorf("shortest chain not found: %q", names(bun.Chain))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("bounded search took %v", d)
	}
}

func TestNewPoolErrors(t *testing.T) {
	p := newCrossPKI(t)
	for _, tc := range []struct {
		name  string
		certs []sdk.TrustCert
		plats []sdk.Platform
		code  int
	}{
		{"bad root", []sdk.TrustCert{{DER: []byte("x"), Root: true, Source: "roots.pem"}}, nil, CodeRoot},
		{"bad intermediate", []sdk.TrustCert{{DER: []byte("x"), Source: "int.pem"}}, nil, CodeIntermediates},
		{"unknown hash", nil, []sdk.Platform{{Name: "p", HashAlgo: "MD5"}}, 0},
		{"unknown key", nil, []sdk.Platform{{Name: "p", KeyAlgo: "DSA"}}, 0},
		{"negative weight", nil, []sdk.Platform{{Name: "p", Weight: -1}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPool(tc.certs, tc.plats)
			if err == nil || CodeOf(err) != tc.code {
				t.Fatalf("err = %v (code %d), want code %d", err, CodeOf(err), tc.code)
			}
		})
	}
	// The same certificate as intermediate then root is a root.
	pool, err := NewPool([]sdk.TrustCert{{DER: p.newRoot.cert.Raw}, {DER: p.newRoot.cert.Raw, Root: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, i := pool.Len(); r != 1 || i != 0 {
		t.Errorf("roots %d, intermediates %d", r, i)
	}
	// Platform roots match by SPKI hash or whole-certificate hash.
	whole := sha1Hex(p.oldRoot.cert.Raw)
	pool, _ = NewPool([]sdk.TrustCert{{DER: p.oldRoot.cert.Raw, Root: true}}, []sdk.Platform{{Name: "w", Weight: 1, Roots: []string{strings.ToUpper(whole)}}})
	if !pool.platforms[0].trusts(p.oldRoot.cert) || pool.platforms[0].trusts(p.newRoot.cert) {
		t.Error("whole-certificate SHA-1 membership")
	}
}

// TestHostileRequest: the caller sends many certificates that all claim
// to be the leaf's issuer, with other keys, and a long chain of its own:
// the answer comes quickly and is a refusal.
func TestHostileRequest(t *testing.T) {
	p := newCrossPKI(t)
	b := &Bundler{Pool: p.pool(t, nil)}
	chain := []*x509.Certificate{p.leaf.cert}
	for i := 0; i < 60; i++ {
		chain = append(chain, issue(t, certSpec{cn: "Issuing CA", org: "Test Trust", ca: true}, p.newRoot).cert)
	}
	start := time.Now()
	bun, err := b.Bundle(context.Background(), Request{Chain: chain})
	if err != nil {
		t.Fatal(err) // the pool's real intermediate still builds the chain
	}
	if !bun.Chain[1].Equal(p.inter.cert) || !bun.Status.Rebundled {
		t.Errorf("chain %q", names(bun.Chain))
	}
	// Without the real intermediate: refused, within the signature budget.
	pool, _ := NewPool([]sdk.TrustCert{{DER: p.newRoot.cert.Raw, Root: true}}, nil)
	_, err = (&Bundler{Pool: pool, Limits: Limits{MaxSigChecks: 32}}).Bundle(context.Background(), Request{Chain: chain})
	if CodeOf(err) == 0 {
		t.Errorf("impostors only: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}
