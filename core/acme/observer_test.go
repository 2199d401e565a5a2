package acme_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pkid/pkid/core/acme"
	"github.com/pkid/pkid/core/acme/validation"
	"github.com/pkid/pkid/core/server"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// recorder is an Observer that keeps what it sees and can refuse commits
// (an audit log that cannot be written).
type recorder struct {
	mu      sync.Mutex
	commits []server.Event
	dones   []server.Event
	fail    atomic.Bool
}

func (r *recorder) Commit(_ context.Context, ev *server.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail.Load() {
		return errors.New("audit: disk full")
	}
	r.commits = append(r.commits, *ev)
	return nil
}

func (r *recorder) Done(_ context.Context, ev *server.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dones = append(r.dones, *ev)
}

func (r *recorder) lastDone(t *testing.T) server.Event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.dones) == 0 {
		t.Fatal("no request observed")
	}
	return r.dones[len(r.dones)-1]
}

func (r *recorder) commitCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.commits)
}

// issue has c order, validate, finalize and download a certificate for
// name, and returns the leaf.
func issue(t *testing.T, c *rawClient, name string) *x509.Certificate {
	t.Helper()
	o := readyOrder(t, c, name)
	csr, _ := csrFor(t, "", name)
	r := c.post(o.Finalize, map[string]string{"csr": csr}, jwsOpts{})
	if r.status != http.StatusOK {
		t.Fatalf("finalize: %d %s", r.status, r.body)
	}
	var done orderReply
	r.decode(t, &done)
	return leafOf(t, c.post(done.Certificate, nil, jwsOpts{getEmpty: true}).body)
}

// TestObserverSeesACME: ACME issuances and revocations reach the
// daemon's audit log and metrics (the Observer) like the API's: a commit
// per certificate and revocation naming CA, profile and account, before
// the reply; a certificate whose record cannot be written is not
// released; authentication failures are told from order-state 403s.
func TestObserverSeesACME(t *testing.T) {
	ok := &gateValidator{release: make(chan struct{}), view: validation.View{Perspective: "double", OK: true}}
	close(ok.release)
	rec := &recorder{}
	docs := plugintest.NewMemDocStore()
	c := observedNode(t, docs, ok, rec)
	acct := "acme:" + c.kid[strings.LastIndex(c.kid, "/")+1:]

	// Issuance: one commit, before the reply, with the certificate.
	leaf := issue(t, c, "observed.acme.test")
	rec.mu.Lock()
	commits := append([]server.Event(nil), rec.commits...)
	var finalizeDone *server.Event
	for i := range rec.dones {
		if rec.dones[i].Endpoint == "acme-finalize" {
			finalizeDone = &rec.dones[i]
		}
	}
	rec.mu.Unlock()
	if len(commits) != 1 || commits[0].Issued == nil || commits[0].Issued.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("commits after finalize: %+v", commits)
	}
	if ev := commits[0]; ev.Endpoint != "acme-finalize" || ev.Label != "issuing" || ev.Profile != "web" || ev.Client != acct {
		t.Fatalf("issuance event: endpoint %q CA %q profile %q client %q", ev.Endpoint, ev.Label, ev.Profile, ev.Client)
	}
	if finalizeDone == nil || finalizeDone.Status != http.StatusOK || finalizeDone.Err != nil {
		t.Fatalf("finalize Done: %+v", finalizeDone)
	}

	// Revocation by the account: one commit with what was revoked.
	cert := base64.RawURLEncoding.EncodeToString(leaf.Raw)
	if r := c.post(c.url("revokeCert"), map[string]any{"certificate": cert, "reason": 4}, jwsOpts{}); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	rec.mu.Lock()
	last := rec.commits[len(rec.commits)-1]
	rec.mu.Unlock()
	if last.Revoked == nil || last.Revoked.Request.Serial != leaf.SerialNumber.String() || last.Revoked.Request.Reason != 4 ||
		last.Endpoint != "acme-revoke" || last.Client != acct || last.Label != "issuing" {
		t.Fatalf("revocation event: %+v", last)
	}

	// Authentication failures, and 403s that are not.
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c.postRaw(c.url("newAccount"), mismatchJWS(t, c, c.url("newAccount"), stranger), "application/jose+json")
	if ev := rec.lastDone(t); ev.Endpoint != "acme-account" || !ev.AuthFailure() || ev.Client != "" {
		t.Fatalf("bad signature: endpoint %q auth failure %v client %q", ev.Endpoint, ev.AuthFailure(), ev.Client)
	}
	ghost := *c
	ghost.kid = strings.TrimSuffix(c.kid, "/"+c.kid[strings.LastIndex(c.kid, "/")+1:]) + "/nosuchaccount"
	ghost.newOrder("ghost.acme.test")
	if ev := rec.lastDone(t); ev.Endpoint != "acme-order" || !ev.AuthFailure() {
		t.Fatalf("unknown account: endpoint %q auth failure %v", ev.Endpoint, ev.AuthFailure())
	}
	pending, _ := c.newOrder("pending.acme.test")
	csr, _ := csrFor(t, "", "pending.acme.test")
	if r := c.post(pending.Finalize, map[string]string{"csr": csr}, jwsOpts{}); r.status != http.StatusForbidden {
		t.Fatalf("finalize of a pending order: %d %s", r.status, r.body)
	}
	if ev := rec.lastDone(t); ev.Endpoint != "acme-finalize" || ev.AuthFailure() || ev.Client != acct || ev.Status != http.StatusForbidden {
		t.Fatalf("orderNotReady: endpoint %q auth failure %v client %q status %d", ev.Endpoint, ev.AuthFailure(), ev.Client, ev.Status)
	}
	// A path that is no resource: a fixed endpoint name, not the path.
	c.hc.Get(strings.Replace(c.url("newNonce"), "new-nonce", "x<script>", 1))
	if ev := rec.lastDone(t); ev.Endpoint != "acme" {
		t.Fatalf("unknown resource counted as %q", ev.Endpoint)
	}

	// The audit log refuses: the certificate is not released, the order
	// ends invalid saying why, and nothing is downloadable.
	o2 := readyOrder(t, c, "unaudited.acme.test")
	csr2, _ := csrFor(t, "", "unaudited.acme.test")
	rec.fail.Store(true)
	before := rec.commitCount()
	r := c.post(o2.Finalize, map[string]string{"csr": csr2}, jwsOpts{})
	if typ, detail := r.problem(t); r.status != http.StatusServiceUnavailable || typ != acme.ProbServerInternal || !strings.Contains(detail, "audit log") {
		t.Fatalf("finalize with the audit log down: %d %s %s", r.status, typ, detail)
	}
	var after orderReply
	c.post(strings.TrimSuffix(o2.Finalize, "/finalize"), nil, jwsOpts{getEmpty: true}).decode(t, &after)
	if after.Status != "invalid" || after.Certificate != "" {
		t.Fatalf("order after an unaudited issuance: %+v", after)
	}
	n := 0
	if err := docs.FindDocs(t.Context(), acme.KindCert, "account:"+acct[len("acme:"):], 0, func(*sdk.Doc) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("%d downloadable certificates (%v), want only the audited one", n, err)
	}
	// A revocation stands without its record, but the client is told to
	// retry; the retry is recorded (alreadyRevoked for the same reason).
	rec.fail.Store(false)
	leaf3 := issue(t, c, "late.acme.test")
	rec.fail.Store(true)
	cert3 := base64.RawURLEncoding.EncodeToString(leaf3.Raw)
	if r := c.post(c.url("revokeCert"), map[string]any{"certificate": cert3}, jwsOpts{}); r.status != http.StatusServiceUnavailable {
		t.Fatalf("revoke with the audit log down: %d %s", r.status, r.body)
	}
	stored, err := shared.D.Set().CAs["issuing"].Store().Get(t.Context(), leaf3.SerialNumber.String(), strings.ToLower(hexKeyID(leaf3.AuthorityKeyId)))
	if err != nil || stored.Status != sdk.StatusRevoked {
		t.Fatalf("revocation without its record: %+v %v", stored, err)
	}
	rec.fail.Store(false)
	mid := rec.commitCount()
	if r := c.post(c.url("revokeCert"), map[string]any{"certificate": cert3}, jwsOpts{}); r.status != http.StatusBadRequest {
		t.Fatalf("retried revoke: %d %s", r.status, r.body)
	}
	if got := rec.commitCount(); got != mid+1 || before+1 != mid {
		t.Fatalf("commits: %d before the outage, %d after it, %d after the retry", before, mid, got)
	}
}
