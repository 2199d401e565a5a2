package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/internal/testtool"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
	"github.com/pkid/pkid/sdk"
)

const testPublicURL = "http://127.0.0.1:1"

const signingConfig = `{"signing":{
 "default":{"usages":["digital signature","key encipherment","server auth","client auth"],"expiry":"720h"}}}`

var (
	oidDeltaCRLIndicator = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDP         = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidFreshestCRL       = asn1.ObjectIdentifier{2, 5, 29, 46}
)

// requireOpenSSL returns the openssl binary; under CI=true a missing one
// fails the test, elsewhere it skips it.
func requireOpenSSL(t *testing.T) string {
	t.Helper()
	return testtool.Require(t, "openssl")
}

// testCA is one CA of the test environment.
type testCA struct {
	label string
	iss   *ca.Issuer
	cert  *x509.Certificate
}

// env is two CAs ("a", "b") sharing one SQLite store.
type env struct {
	store *storesqlite.Store
	set   *authority.Set
	cas   map[string]*testCA
	dir   string
}

func newIssuer(t *testing.T, label string, store sdk.CertStore) *testCA {
	t.Helper()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	// An intermediate under a throwaway root: a self-signed CA's CRLs carry
	// no issuing distribution point (see caState.idp).
	rootKey, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(context.Background(), ca.InitCARequest{
		Request: &csr.Request{CN: "revocation test root " + label, Names: []csr.Name{{C: "US", O: "pkid test"}}, KeyRequest: csr.DefaultKeyRequest()},
		Signer:  rootKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	rootProfiles, err := profile.ParseCFSSL([]byte(`{"signing":{"default":{"usages":["cert sign","crl sign"],"expiry":"8760h","ca_constraint":{"is_ca":true,"max_path_len":0,"max_path_len_zero":true}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	rootIss, err := ca.NewIssuer(ca.IssuerConfig{Label: "root-" + label, Certificate: root.Cert, Signer: rootKey, Profiles: rootProfiles})
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, err := csr.Generate(&csr.Request{CN: "revocation test CA " + label, Names: []csr.Name{{C: "US", O: "pkid test"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := rootIss.Sign(context.Background(), ca.SignRequest{CSR: csrPEM})
	if err != nil {
		t.Fatal(err)
	}
	if cert.Cert.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != x509.KeyUsageCertSign|x509.KeyUsageCRLSign || len(cert.Cert.SubjectKeyId) == 0 {
		t.Fatalf("CA certificate: key usage %v, SKI %x", cert.Cert.KeyUsage, cert.Cert.SubjectKeyId)
	}
	profiles, err := profile.ParseCFSSL([]byte(signingConfig))
	if err != nil {
		t.Fatal(err)
	}
	block := &config.CA{Name: label}
	crlURL, _, issuerURL, ocspURL := authority.URLs(config.PkidBlock{}, testPublicURL, block)
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: label, Certificate: cert.Cert, Signer: key, Profiles: profiles, Store: store,
		CRLURL: crlURL, IssuerURL: issuerURL, OCSPURL: ocspURL})
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{label: label, iss: iss, cert: cert.Cert}
}

func defaultCRL() *config.CRLSettings {
	return &config.CRLSettings{Validity: 168 * time.Hour, Interval: time.Hour, DeltaInterval: 15 * time.Minute, OnRevoke: true}
}

func defaultOCSP() *config.OCSPSettings {
	return &config.OCSPSettings{Validity: 96 * time.Hour, RefreshInterval: time.Hour}
}

// newEnv builds the CAs; mod adjusts their blocks before the Service sees them.
func newEnv(t *testing.T, mod func(label string, c *config.CA)) *env {
	t.Helper()
	store, err := storesqlite.Open(context.Background(), storesqlite.Options{Path: filepath.Join(t.TempDir(), "certs.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, cas: map[string]*testCA{}, dir: filepath.Join(t.TempDir(), "crl"),
		set: &authority.Set{CAs: map[string]*ca.Issuer{}, Default: "a", Blocks: map[string]*config.CA{}, PublicURL: testPublicURL}}
	for _, l := range []string{"a", "b"} {
		c := newIssuer(t, l, store)
		e.cas[l] = c
		e.set.CAs[l] = c.iss
		blk := &config.CA{Name: l, CRL: defaultCRL(), OCSP: defaultOCSP()}
		if mod != nil {
			mod(l, blk)
		}
		e.set.Blocks[l] = blk
	}
	return e
}

func (e *env) service(t *testing.T, mod func(*Options)) *Service {
	t.Helper()
	opts := Options{CAs: e.set, Dir: e.dir}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// issue signs a leaf with the CA label (recorded in the store).
func (e *env) issue(t *testing.T, label, cn string) *x509.Certificate {
	t.Helper()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, err := csr.Generate(&csr.Request{CN: cn, Hosts: []string{cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.cas[label].iss.Sign(context.Background(), ca.SignRequest{CSR: csrPEM})
	if err != nil {
		t.Fatal(err)
	}
	return c.Cert
}

func (e *env) revoke(t *testing.T, label string, cert *x509.Certificate, reason int) sdk.RevokeRequest {
	t.Helper()
	rr := sdk.RevokeRequest{Serial: cert.SerialNumber.String(), AKI: e.cas[label].iss.AKI(), Reason: reason}
	if err := e.store.Revoke(context.Background(), rr); err != nil {
		t.Fatal(err)
	}
	return rr
}

func readCRL(t *testing.T, path string, issuer *x509.Certificate) (*x509.RevocationList, []byte) {
	t.Helper()
	der, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseCRL(t, der, issuer), der
}

func parseCRL(t *testing.T, der []byte, issuer *x509.Certificate) *x509.RevocationList {
	t.Helper()
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("parsing the CRL: %v", err)
	}
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL signature does not verify against %s: %v", issuer.Subject.CommonName, err)
	}
	return rl
}

func readMeta(t *testing.T, path string) Meta {
	t.Helper()
	b, err := os.ReadFile(path + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s.json: %v", path, err)
	}
	return m
}

func findExt(rl *x509.RevocationList, oid asn1.ObjectIdentifier) *pkix.Extension {
	for i := range rl.Extensions {
		if rl.Extensions[i].Id.Equal(oid) {
			return &rl.Extensions[i]
		}
	}
	return nil
}

// fullNameURI reads DistributionPointName { fullName [0] { uniformResourceIdentifier [6] } }.
func fullNameURI(t *testing.T, s *cryptobyte.String) string {
	t.Helper()
	var dpn, fullName, uri cryptobyte.String
	if !s.ReadASN1(&dpn, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!dpn.ReadASN1(&fullName, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!fullName.ReadASN1(&uri, cbasn1.Tag(6).ContextSpecific()) {
		t.Fatal("malformed DistributionPointName")
	}
	return string(uri)
}

// idpURI decodes IssuingDistributionPoint's fullName URI.
func idpURI(t *testing.T, v []byte) string {
	t.Helper()
	s := cryptobyte.String(v)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		t.Fatal("malformed IDP")
	}
	return fullNameURI(t, &seq)
}

// freshestURI decodes FreshestCRL's first distribution point URI.
func freshestURI(t *testing.T, v []byte) string {
	t.Helper()
	s := cryptobyte.String(v)
	var seq, dp cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1(&dp, cbasn1.SEQUENCE) {
		t.Fatal("malformed FreshestCRL")
	}
	return fullNameURI(t, &dp)
}

// entries maps serial (decimal) to reason.
func entries(rl *x509.RevocationList) map[string]int {
	out := map[string]int{}
	for _, e := range rl.RevokedCertificateEntries {
		out[e.SerialNumber.String()] = e.ReasonCode
	}
	return out
}

func pemFile(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGenerateFullAndDelta(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	s := e.service(t, nil)
	a, b := e.cas["a"], e.cas["b"]

	a1 := e.issue(t, "a", "a1.example.com")
	a2 := e.issue(t, "a", "a2.example.com")
	a3 := e.issue(t, "a", "a3.example.com")
	aKeep := e.issue(t, "a", "a4.example.com")
	b1 := e.issue(t, "b", "b1.example.com")
	e.revoke(t, "a", a1, 1) // keyCompromise
	e.revoke(t, "a", a2, 4) // superseded
	e.revoke(t, "b", b1, 5) // cessationOfOperation

	crlURL, deltaURL, _, _ := authority.URLs(config.PkidBlock{}, testPublicURL, e.set.Blocks["a"])
	if crlURL != testPublicURL+"/crl/a.crl" || deltaURL != testPublicURL+"/crl/a-delta.crl" {
		t.Fatalf("authority.URLs = %q, %q", crlURL, deltaURL)
	}
	if len(a1.CRLDistributionPoints) != 1 || a1.CRLDistributionPoints[0] != crlURL {
		t.Fatalf("leaf CRL DP = %v, want %s", a1.CRLDistributionPoints, crlURL)
	}

	fm, err := s.GenerateFull(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	fullPath := filepath.Join(e.dir, "a.crl")
	full, fullDER := readCRL(t, fullPath, a.cert)
	got := entries(full)
	want := map[string]int{a1.SerialNumber.String(): 1, a2.SerialNumber.String(): 4}
	if len(got) != len(want) {
		t.Errorf("full CRL of a lists %v, want %v", got, want)
	}
	for sn, r := range want {
		if g, ok := got[sn]; !ok || g != r {
			t.Errorf("full CRL: serial %s reason %d (listed %v), want %d", sn, g, ok, r)
		}
	}
	if _, ok := got[b1.SerialNumber.String()]; ok {
		t.Error("the full CRL of a lists b's certificate")
	}
	if _, ok := got[aKeep.SerialNumber.String()]; ok {
		t.Error("the full CRL lists an unrevoked certificate")
	}
	if full.Number == nil || full.Number.String() != fm.Number {
		t.Errorf("CRL number %v, meta %q", full.Number, fm.Number)
	}
	if disk := readMeta(t, fullPath); disk.Number != fm.Number || disk.Entries != 2 || disk.DeltaBase != "" ||
		!disk.ThisUpdate.Truncate(time.Second).Equal(full.ThisUpdate) || !disk.NextUpdate.Truncate(time.Second).Equal(full.NextUpdate) || disk.Bytes != int64(len(fullDER)) {
		t.Errorf("meta on disk %+v; CRL thisUpdate %v nextUpdate %v, %d bytes", disk, full.ThisUpdate, full.NextUpdate, len(fullDER))
	}
	if d := full.NextUpdate.Sub(full.ThisUpdate); d != 168*time.Hour {
		t.Errorf("full CRL validity %v, want 168h", d)
	}
	idp := findExt(full, oidIssuingDP)
	if idp == nil || !idp.Critical {
		t.Fatalf("full CRL IDP = %+v, want a critical extension", idp)
	}
	if u := idpURI(t, idp.Value); u != crlURL {
		t.Errorf("IDP URI %q, want %q", u, crlURL)
	}
	fr := findExt(full, oidFreshestCRL)
	if fr == nil {
		t.Fatal("full CRL has no freshestCRL although deltas are on")
	}
	if u := freshestURI(t, fr.Value); u != deltaURL {
		t.Errorf("freshestCRL URI %q, want %q", u, deltaURL)
	}
	if findExt(full, oidDeltaCRLIndicator) != nil {
		t.Error("the full CRL carries a deltaCRLIndicator")
	}

	// b's full CRL: only b's revocation.
	if _, err := s.GenerateFull(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	bfull, _ := readCRL(t, filepath.Join(e.dir, "b.crl"), b.cert)
	if got := entries(bfull); len(got) != 1 || got[b1.SerialNumber.String()] != 5 {
		t.Errorf("full CRL of b lists %v, want only %s (reason 5)", got, b1.SerialNumber)
	}

	// Revoked after the full CRL: in the delta, not the full.
	e.revoke(t, "a", a3, 3) // affiliationChanged
	dm, err := s.GenerateDelta(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	deltaPath := filepath.Join(e.dir, "a-delta.crl")
	delta, deltaDER := readCRL(t, deltaPath, a.cert)
	if got := entries(delta); got[a3.SerialNumber.String()] != 3 {
		t.Errorf("delta CRL lists %v, want %s with reason 3", got, a3.SerialNumber)
	}
	if _, ok := entries(full)[a3.SerialNumber.String()]; ok {
		t.Error("the full CRL lists a certificate revoked after it was made")
	}
	di := findExt(delta, oidDeltaCRLIndicator)
	if di == nil || !di.Critical {
		t.Fatalf("delta CRL deltaCRLIndicator = %+v, want critical", di)
	}
	var base *big.Int
	if rest, err := asn1.Unmarshal(di.Value, &base); err != nil || len(rest) > 0 {
		t.Fatalf("deltaCRLIndicator value: %v", err)
	}
	if base.Cmp(full.Number) != 0 {
		t.Errorf("delta base %v, want the full CRL number %v", base, full.Number)
	}
	if delta.Number.Cmp(full.Number) <= 0 {
		t.Errorf("delta number %v not above the full CRL number %v", delta.Number, full.Number)
	}
	if didp := findExt(delta, oidIssuingDP); didp == nil || !didp.Critical || idpURI(t, didp.Value) != crlURL {
		t.Errorf("delta IDP = %+v, want critical with %s", didp, crlURL)
	}
	if findExt(delta, oidFreshestCRL) != nil {
		t.Error("the delta CRL carries freshestCRL")
	}
	if d := delta.NextUpdate.Sub(delta.ThisUpdate); d != 30*time.Minute {
		t.Errorf("delta validity %v, want 2×15m", d)
	}
	if disk := readMeta(t, deltaPath); disk.Number != dm.Number || disk.DeltaBase != fm.Number || disk.Entries != int64(len(delta.RevokedCertificateEntries)) {
		t.Errorf("delta meta %+v (full number %s, %d entries)", disk, fm.Number, len(delta.RevokedCertificateEntries))
	}
	// CRLs are public: world-readable (a web server may serve the
	// directory), not os.CreateTemp's 0600.
	for _, p := range []string{fullPath, deltaPath} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v (%v), want 0644", p, fi.Mode().Perm(), err)
		}
	}
	if _, err := s.GenerateFull(ctx, "nope"); err == nil {
		t.Error("GenerateFull of an unknown CA succeeded")
	}
	if _, err := s.GenerateDelta(ctx, "nope"); err == nil {
		t.Error("GenerateDelta of an unknown CA succeeded")
	}

	// openssl: the leaf revoked after the full CRL is revoked through the delta.
	openssl := requireOpenSSL(t)
	dir := t.TempDir()
	caPEM := pemFile(t, dir, "ca.pem", "CERTIFICATE", a.cert.Raw)
	fullPEM := pemFile(t, dir, "full.pem", "X509 CRL", fullDER)
	deltaPEM := pemFile(t, dir, "delta.pem", "X509 CRL", deltaDER)
	verify := func(leaf *x509.Certificate, crls ...string) (string, error) {
		args := []string{"verify", "-partial_chain", "-crl_check", "-use_deltas", "-CAfile", caPEM}
		for _, c := range crls {
			args = append(args, "-CRLfile", c)
		}
		args = append(args, pemFile(t, dir, leaf.SerialNumber.String()+".pem", "CERTIFICATE", leaf.Raw))
		out, err := exec.Command(openssl, args...).CombinedOutput()
		return string(out), err
	}
	out, err := verify(a3, fullPEM, deltaPEM)
	if err == nil || !strings.Contains(out, "certificate revoked") {
		t.Errorf("openssl verify with the delta: %v\n%s\nwant certificate revoked", err, out)
	}
	// Control: without the delta the leaf verifies (so the failure above is the delta's doing).
	if out, err := verify(a3, fullPEM); err != nil {
		t.Errorf("openssl verify with the full CRL only: %v\n%s", err, out)
	}
	if out, err := verify(a1, fullPEM, deltaPEM); err == nil || !strings.Contains(out, "certificate revoked") {
		t.Errorf("openssl verify of a leaf in the full CRL: %v\n%s", err, out)
	}
	if out, err := verify(aKeep, fullPEM, deltaPEM); err != nil {
		t.Errorf("openssl verify of an unrevoked leaf: %v\n%s", err, out)
	}
}

func TestRevoked(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	var mu sync.Mutex
	var forgotten []string
	s := e.service(t, func(o *Options) {
		o.Forget = func(serial *big.Int) {
			mu.Lock()
			forgotten = append(forgotten, serial.String())
			mu.Unlock()
		}
	})
	a := e.cas["a"]
	if _, err := s.GenerateFull(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	before := readMeta(t, filepath.Join(e.dir, "a.crl"))
	s.Start(ctx)
	defer s.Stop()

	leaf := e.issue(t, "a", "leaf.example.com")
	rr := e.revoke(t, "a", leaf, 1)
	rr.AKI = strings.ToUpper(rr.AKI) // normalised
	if err := s.Revoked(ctx, rr); err != nil {
		t.Fatal(err)
	}
	rec, err := e.store.GetOCSP(ctx, leaf.SerialNumber.String(), a.iss.AKI())
	if err != nil {
		t.Fatalf("no stored OCSP response: %v", err)
	}
	resp, err := ocsp.ParseResponseForCert(rec.Response, leaf, a.cert)
	if err != nil {
		t.Fatalf("stored OCSP response: %v", err)
	}
	if resp.Status != ocsp.Revoked || resp.RevocationReason != ocsp.KeyCompromise {
		t.Errorf("OCSP status %d reason %d, want revoked (%d) with keyCompromise", resp.Status, resp.RevocationReason, ocsp.Revoked)
	}
	if resp.IssuerHash != crypto.SHA1 {
		t.Errorf("OCSP CertID hash %v, want SHA-1", resp.IssuerHash)
	}
	if !rec.NextUpdate.Equal(resp.NextUpdate) {
		t.Errorf("stored nextUpdate %v, response's %v", rec.NextUpdate, resp.NextUpdate)
	}
	mu.Lock()
	if len(forgotten) != 1 || forgotten[0] != leaf.SerialNumber.String() {
		t.Errorf("Forget called with %v, want [%s]", forgotten, leaf.SerialNumber)
	}
	mu.Unlock()

	// The on-revoke regenerator publishes a full CRL listing the
	// certificate (what most relying parties read) and a delta against
	// it; a request made after Revoked waits for them.
	h := s.CRLHandler()
	r := get(t, h, http.MethodGet, "/a.crl")
	if r.status != http.StatusOK {
		t.Fatalf("GET a.crl: %d %s", r.status, r.body)
	}
	full := parseCRL(t, r.body, a.cert)
	if _, ok := entries(full)[leaf.SerialNumber.String()]; !ok {
		t.Fatal("the full CRL served after Revoked does not list the revoked certificate")
	}
	if full.Number.String() == before.Number {
		t.Errorf("full CRL number %s not regenerated", full.Number)
	}
	r = get(t, h, http.MethodGet, "/a-delta.crl")
	if r.status != http.StatusOK {
		t.Fatalf("GET a-delta.crl: %d %s", r.status, r.body)
	}
	delta := parseCRL(t, r.body, a.cert)
	if _, ok := entries(delta)[leaf.SerialNumber.String()]; !ok {
		t.Error("the delta CRL does not list the revoked certificate")
	}
	if m := readMeta(t, filepath.Join(e.dir, "a-delta.crl")); m.DeltaBase != full.Number.String() {
		t.Errorf("on-revoke delta base %s, want the new full CRL's %s", m.DeltaBase, full.Number)
	}

	if err := s.Revoked(ctx, sdk.RevokeRequest{Serial: leaf.SerialNumber.String(), AKI: "00112233"}); err == nil {
		t.Error("Revoked with an unknown AKI succeeded")
	}
	if err := s.Revoked(ctx, sdk.RevokeRequest{Serial: "0x12", AKI: a.iss.AKI()}); err == nil {
		t.Error("Revoked with a non-decimal serial succeeded")
	}
	if err := s.Revoked(ctx, sdk.RevokeRequest{Serial: "12345", AKI: a.iss.AKI()}); err == nil {
		t.Error("Revoked of a serial the store does not hold succeeded")
	}
}

// TestRevokedFullWithoutDeltas: with deltas off the regenerator writes a
// full CRL.
func TestRevokedFullWithoutDeltas(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(_ string, c *config.CA) { c.CRL.DeltaInterval = 0 })
	s := e.service(t, nil)
	s.Start(ctx)
	defer s.Stop()
	leaf := e.issue(t, "b", "leaf.example.com")
	rr := e.revoke(t, "b", leaf, 0)
	if err := s.Revoked(ctx, rr); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, "b.crl")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if der, err := os.ReadFile(path); err == nil {
			rl := parseCRL(t, der, e.cas["b"].cert)
			if _, ok := entries(rl)[leaf.SerialNumber.String()]; ok {
				if findExt(rl, oidFreshestCRL) != nil {
					t.Error("freshestCRL written with deltas off")
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no full CRL listing the revoked certificate within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "b-delta.crl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a delta CRL was written with deltas off: %v", err)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func get(t *testing.T, h http.Handler, method, path string) reply {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return reply{w.Code, w.Result().Header, body}
}

func maxAge(t *testing.T, h http.Header) time.Duration {
	t.Helper()
	cc := h.Get("Cache-Control")
	_, v, ok := strings.Cut(cc, "max-age=")
	if !ok {
		t.Fatalf("Cache-Control %q has no max-age", cc)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("Cache-Control %q: %v", cc, err)
	}
	return time.Duration(n) * time.Second
}

func TestCRLHandler(t *testing.T) {
	e := newEnv(t, func(l string, c *config.CA) {
		if l == "b" {
			c.CRL.DeltaInterval = 0
		}
	})
	// Options.Now a day behind the wall clock: Cache-Control must follow
	// Options.Now, not time.Now.
	clk := &clock{t: time.Now().Add(-24 * time.Hour).Truncate(time.Second)}
	s := e.service(t, func(o *Options) { o.Now = clk.Now })
	h := s.CRLHandler()
	a := e.cas["a"]
	leaf := e.issue(t, "a", "leaf.example.com")
	e.revoke(t, "a", leaf, 1)

	// Missing: generated on demand.
	if _, err := os.Stat(filepath.Join(e.dir, "a.crl")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a.crl exists before the first request: %v", err)
	}
	r := get(t, h, http.MethodGet, "/a.crl")
	if r.status != http.StatusOK {
		t.Fatalf("GET /a.crl: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/pkix-crl" {
		t.Errorf("Content-Type %q", ct)
	}
	if ma := maxAge(t, r.header); ma <= 0 || ma > time.Hour {
		t.Errorf("full CRL max-age %v, want within (0, 1h]", ma)
	}
	rl := parseCRL(t, r.body, a.cert)
	if _, ok := entries(rl)[leaf.SerialNumber.String()]; !ok {
		t.Error("the served CRL does not list the revoked certificate")
	}
	m1 := readMeta(t, filepath.Join(e.dir, "a.crl"))
	if et := r.header.Get("ETag"); et != `"`+m1.Number+`"` || rl.Number.String() != m1.Number {
		t.Errorf("ETag %s, meta number %s, CRL number %v", et, m1.Number, rl.Number)
	}
	if !rl.ThisUpdate.Equal(clk.Now()) {
		t.Errorf("thisUpdate %v, want the Options.Now time %v", rl.ThisUpdate, clk.Now())
	}

	// Served again from the file (same number).
	r2 := get(t, h, http.MethodGet, "/a.crl")
	if r2.status != http.StatusOK || !bytes.Equal(r2.body, r.body) {
		t.Errorf("second GET: %d, same body %v", r2.status, bytes.Equal(r2.body, r.body))
	}
	// HEAD works, If-None-Match gives 304.
	if r := get(t, h, http.MethodHead, "/a.crl"); r.status != http.StatusOK {
		t.Errorf("HEAD /a.crl: %d", r.status)
	}
	req := httptest.NewRequest(http.MethodGet, "/a.crl", nil)
	req.Header.Set("If-None-Match", `"`+m1.Number+`"`)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusNotModified {
		t.Errorf("conditional GET: %d, want 304", w.Code)
	}

	// Delta.
	rd := get(t, h, http.MethodGet, "/a-delta.crl")
	if rd.status != http.StatusOK {
		t.Fatalf("GET /a-delta.crl: %d %s", rd.status, rd.body)
	}
	if ct := rd.header.Get("Content-Type"); ct != "application/pkix-crl" {
		t.Errorf("delta Content-Type %q", ct)
	}
	if ma := maxAge(t, rd.header); ma <= 0 || ma > 15*time.Minute {
		t.Errorf("delta max-age %v, want within (0, 15m]", ma)
	}
	if rd.header.Get("ETag") == "" {
		t.Error("delta has no ETag")
	}
	dl := parseCRL(t, rd.body, a.cert)
	if findExt(dl, oidDeltaCRLIndicator) == nil {
		t.Error("the served delta has no deltaCRLIndicator")
	}

	// Past nextUpdate: regenerated with a new number.
	clk.Add(169 * time.Hour)
	r3 := get(t, h, http.MethodGet, "/a.crl")
	if r3.status != http.StatusOK {
		t.Fatalf("GET /a.crl after expiry: %d", r3.status)
	}
	rl3 := parseCRL(t, r3.body, a.cert)
	if rl3.Number.Cmp(rl.Number) <= 0 || !rl3.ThisUpdate.Equal(clk.Now()) {
		t.Errorf("after expiry: number %v (was %v), thisUpdate %v (now %v)", rl3.Number, rl.Number, rl3.ThisUpdate, clk.Now())
	}
	if et := r3.header.Get("ETag"); et != `"`+rl3.Number.String()+`"` {
		t.Errorf("ETag after regeneration %s, CRL number %v", et, rl3.Number)
	}
	if ma := maxAge(t, r3.header); ma <= 0 || ma > time.Hour {
		t.Errorf("max-age after regeneration %v, want within (0, 1h]", ma)
	}
	// The expired delta too, against the new full CRL.
	rd3 := get(t, h, http.MethodGet, "/a-delta.crl")
	if rd3.status != http.StatusOK {
		t.Fatalf("GET /a-delta.crl after expiry: %d", rd3.status)
	}
	if m := readMeta(t, filepath.Join(e.dir, "a-delta.crl")); m.DeltaBase != rl3.Number.String() {
		t.Errorf("regenerated delta base %s, want %v", m.DeltaBase, rl3.Number)
	}

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/nope.crl", http.StatusNotFound},
		{http.MethodGet, "/nope-delta.crl", http.StatusNotFound},
		{http.MethodGet, "/a", http.StatusNotFound},
		{http.MethodGet, "/a.crl.json", http.StatusNotFound},
		{http.MethodGet, "/x/a.crl", http.StatusNotFound},
		{http.MethodGet, "/../a.crl", http.StatusNotFound},
		{http.MethodGet, "/b-delta.crl", http.StatusNotFound}, // deltas off for b
		{http.MethodPost, "/a.crl", http.StatusMethodNotAllowed},
		{http.MethodGet, "/b.crl", http.StatusOK},
	} {
		req := httptest.NewRequest(tc.method, "/", nil)
		req.URL.Path = tc.path // unclean paths as is
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.want)
		}
		if tc.want == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tc.method, tc.path)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "b-delta.crl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("b-delta.crl written although deltas are off for b: %v", err)
	}
}

func TestJobs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(l string, c *config.CA) {
		if l == "b" {
			c.CRL.Interval = 2 * time.Hour
			c.CRL.DeltaInterval = 0
			c.OCSP.RefreshInterval = 30 * time.Minute
		}
	})
	s := e.service(t, nil)
	got := map[string]time.Duration{}
	var names []string
	for _, j := range s.Jobs() {
		got[j.Name] = j.Interval
		names = append(names, j.Name)
		if j.Run == nil {
			t.Errorf("job %s has no Run", j.Name)
		}
	}
	want := map[string]time.Duration{
		"crl:a": time.Hour, "crl-delta:a": 15 * time.Minute, "ocsp-refresh:a": time.Hour,
		"crl:b": 2 * time.Hour, "ocsp-refresh:b": 30 * time.Minute,
	}
	if len(got) != len(want) || len(names) != len(want) {
		t.Errorf("jobs %v, want %v", names, want)
	}
	for n, iv := range want {
		if g, ok := got[n]; !ok || g != iv {
			t.Errorf("job %s: interval %v (present %v), want %v", n, g, ok, iv)
		}
	}

	leaf := e.issue(t, "a", "leaf.example.com")
	other := e.issue(t, "b", "other.example.com")
	if _, err := e.store.GetOCSP(ctx, leaf.SerialNumber.String(), e.cas["a"].iss.AKI()); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("OCSP response before the refresh: %v", err)
	}
	run := func(name string) {
		t.Helper()
		for _, j := range s.Jobs() {
			if j.Name == name {
				if err := j.Run(ctx); err != nil {
					t.Fatalf("job %s: %v", name, err)
				}
				return
			}
		}
		t.Fatalf("no job %s", name)
	}
	run("ocsp-refresh:a")
	rec, err := e.store.GetOCSP(ctx, leaf.SerialNumber.String(), e.cas["a"].iss.AKI())
	if err != nil {
		t.Fatalf("no OCSP response after the refresh job: %v", err)
	}
	resp, err := ocsp.ParseResponseForCert(rec.Response, leaf, e.cas["a"].cert)
	if err != nil || resp.Status != ocsp.Good {
		t.Fatalf("refreshed response: %v, status %v", err, resp)
	}
	if d := resp.NextUpdate.Sub(resp.ThisUpdate); d != 96*time.Hour {
		t.Errorf("refreshed response validity %v, want 96h", d)
	}
	if _, err := e.store.GetOCSP(ctx, other.SerialNumber.String(), e.cas["b"].iss.AKI()); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("a's refresh job signed b's certificate: %v", err)
	}

	run("crl:b")
	if _, err := os.Stat(filepath.Join(e.dir, "b.crl")); err != nil {
		t.Errorf("crl:b wrote no CRL: %v", err)
	}
	run("crl-delta:a")
	if m := readMeta(t, filepath.Join(e.dir, "a-delta.crl")); m.DeltaBase == "" {
		t.Error("crl-delta:a wrote no delta")
	}
}

func TestNew(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := New(Options{CAs: e.set}); err == nil {
		t.Error("New without a directory succeeded")
	}
	// A CA without a certstore is left out; one without a block gets defaults.
	noStore := newIssuer(t, "c", nil)
	e.set.CAs["c"] = noStore.iss
	delete(e.set.Blocks, "b")
	s := e.service(t, nil)
	var names []string
	for _, j := range s.Jobs() {
		names = append(names, j.Name)
	}
	if want := "crl:a crl-delta:a ocsp-refresh:a crl:b crl-delta:b ocsp-refresh:b"; strings.Join(names, " ") != want {
		t.Errorf("jobs %q, want %q", strings.Join(names, " "), want)
	}
	if _, err := s.GenerateFull(context.Background(), "c"); err == nil {
		t.Error("GenerateFull of a CA without a certstore succeeded")
	}
	if r := get(t, s.CRLHandler(), http.MethodGet, "/c.crl"); r.status != http.StatusNotFound {
		t.Errorf("GET /c.crl: %d, want 404", r.status)
	}
}

func TestCAHandler(t *testing.T) {
	e := newEnv(t, nil)
	h := CAHandler(e.set)
	for _, l := range []string{"a", "b"} {
		r := get(t, h, http.MethodGet, "/"+l+".crt")
		if r.status != http.StatusOK || !bytes.Equal(r.body, e.cas[l].cert.Raw) {
			t.Errorf("GET /%s.crt: %d, DER equal %v", l, r.status, bytes.Equal(r.body, e.cas[l].cert.Raw))
		}
		if ct := r.header.Get("Content-Type"); ct != "application/pkix-cert" {
			t.Errorf("Content-Type %q", ct)
		}
	}
	for _, p := range []string{"/nope.crt", "/a", "/a.pem", "/.crt", "/a.crl"} {
		if r := get(t, h, http.MethodGet, p); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.status)
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		if r := get(t, h, m, "/a.crt"); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /a.crt: %d Allow %q, want 405 GET, HEAD", m, r.status, r.header.Get("Allow"))
		}
	}
}

// Concurrent requests for a missing CRL generate it once.
func TestCRLHandlerGeneratesOnce(t *testing.T) {
	e := newEnv(t, nil)
	h := e.service(t, nil).CRLHandler()
	const n = 8
	etags := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := get(t, h, http.MethodGet, "/a.crl")
			if r.status != http.StatusOK {
				t.Errorf("GET /a.crl: %d", r.status)
			}
			etags <- r.header.Get("ETag")
		}()
	}
	wg.Wait()
	close(etags)
	first := ""
	for tag := range etags {
		if first == "" {
			first = tag
		}
		if tag != first || tag == "" {
			t.Fatalf("concurrent first requests got different CRLs (%s, %s): generated more than once", first, tag)
		}
	}
}
