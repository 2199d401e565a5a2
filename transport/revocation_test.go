package transport

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

type testPKI struct {
	ca    *x509.Certificate
	key   crypto.Signer
	leaf  *x509.Certificate
	crl   atomic.Pointer[[]byte]
	fetch atomic.Int64
	srv   *httptest.Server
}

// newTestPKI makes a CA and a leaf whose only revocation source is a CRL
// served by a local server (its OCSP URL points at a closed port).
func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetch.Add(1)
		if b := p.crl.Load(); b != nil {
			w.Write(*b)
			return
		}
		http.Error(w, "none", 404)
	}))
	t.Cleanup(p.srv.Close)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.key = key
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, SubjectKeyId: []byte{1, 2, 3},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	p.ca, _ = x509.ParseCertificate(der)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lt := &x509.Certificate{SerialNumber: big.NewInt(4242), Subject: pkix.Name{CommonName: "peer"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), OCSPServer: []string{"http://127.0.0.1:1/ocsp"}, CRLDistributionPoints: []string{p.srv.URL + "/ca.crl"}}
	der, _ = x509.CreateCertificate(rand.Reader, lt, p.ca, lk.Public(), key)
	p.leaf, _ = x509.ParseCertificate(der)
	return p
}

func (p *testPKI) publishCRL(t *testing.T, signer crypto.Signer, revoked ...*big.Int) {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()),
		ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour), RevokedCertificateEntries: entries}, p.ca, signer)
	if err != nil {
		t.Fatal(err)
	}
	p.crl.Store(&der)
}

func (p *testPKI) staple(t *testing.T, status int, thisUpdate time.Time) []byte {
	t.Helper()
	b, err := ocsp.CreateResponse(p.ca, p.ca, ocsp.Response{Status: status, SerialNumber: p.leaf.SerialNumber, ThisUpdate: thisUpdate,
		NextUpdate: thisUpdate.Add(96 * time.Hour), RevokedAt: thisUpdate}, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRevocationSources(t *testing.T) {
	ctx := context.Background()
	p := newTestPKI(t)
	const ttl = 300 * time.Millisecond
	closed := newChecker(RevocationConfig{Mode: FailClosed, CacheTTL: ttl, Timeout: time.Second}, time.Now)
	open := newChecker(RevocationConfig{Mode: FailOpen, CacheTTL: ttl, Timeout: time.Second}, time.Now)

	// No source answers: fail-closed refuses, fail-open accepts and counts.
	if err := closed.check(ctx, p.leaf, p.ca, nil); !errors.Is(err, ErrRevocationUnknown) {
		t.Fatalf("fail-closed without answers: %v", err)
	}
	if err := open.check(ctx, p.leaf, p.ca, nil); err != nil || open.unknownCount() != 1 {
		t.Fatalf("fail-open without answers: %v, unknown %d", err, open.unknownCount())
	}
	// A CRL signed by another key is no answer.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.publishCRL(t, other)
	if err := closed.check(ctx, p.leaf, p.ca, nil); !errors.Is(err, ErrRevocationUnknown) {
		t.Fatalf("forged CRL: %v", err)
	}
	// The CRL (OCSP unreachable): good, cached, then revoked once the cache expires.
	p.publishCRL(t, p.key)
	time.Sleep(ttl)
	if err := closed.check(ctx, p.leaf, p.ca, nil); err != nil {
		t.Fatalf("good by CRL: %v", err)
	}
	n := p.fetch.Load()
	p.publishCRL(t, p.key, p.leaf.SerialNumber)
	if err := closed.check(ctx, p.leaf, p.ca, nil); err != nil {
		t.Fatalf("cached answer: %v", err)
	}
	if p.fetch.Load() != n {
		t.Fatal("the cache was not used")
	}
	time.Sleep(ttl)
	if err := closed.check(ctx, p.leaf, p.ca, nil); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked by CRL after the cache bound: %v", err)
	}
	// A fresh staple is used before the sources (here it contradicts the
	// CRL, to tell which one answered); a stale "good" staple is ignored.
	if err := newChecker(RevocationConfig{Mode: FailClosed, CacheTTL: time.Minute}, time.Now).check(ctx, p.leaf, p.ca, p.staple(t, ocsp.Good, time.Now().Add(-time.Second))); err != nil {
		t.Fatalf("fresh good staple: %v", err)
	}
	fresh := newChecker(RevocationConfig{Mode: FailClosed, CacheTTL: ttl}, time.Now)
	if err := fresh.check(ctx, p.leaf, p.ca, p.staple(t, ocsp.Good, time.Now().Add(-time.Hour))); !errors.Is(err, ErrRevoked) {
		t.Fatalf("stale good staple must not hide the revocation: %v", err)
	}
	if err := fresh.check(ctx, p.leaf, p.ca, []byte("garbage")); !errors.Is(err, ErrRevoked) {
		t.Fatalf("garbage staple: %v", err)
	}
	off := newChecker(RevocationConfig{Mode: RevocationOff}, time.Now)
	if err := off.check(ctx, p.leaf, p.ca, nil); err != nil {
		t.Fatal(err)
	}
}
