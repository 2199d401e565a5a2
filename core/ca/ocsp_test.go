package ca_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
)

// ---------------------------------------------------------------------------
// fixtures

type ocspCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func genKey(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case "ecdsa":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown key type %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var ocspSerial int64 = 1000

func nextSerial() *big.Int {
	ocspSerial++
	return big.NewInt(ocspSerial)
}

func newOCSPCA(t testing.TB, alg, cn string) ocspCA {
	t.Helper()
	key := genKey(t, alg)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"pkid test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ocspCA{cert, key}
}

// issueLeaf signs a leaf (or, with responder, a delegated OCSP responder
// certificate: OCSPSigning and id-pkix-ocsp-nocheck) under c.
func (c ocspCA) issue(t testing.TB, cn string, pub crypto.PublicKey, responder bool) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"leaf.example.com"},
	}
	if responder {
		tmpl.DNSNames = nil
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}, Value: []byte{0x05, 0x00}}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, pub, c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func (c ocspCA) issuer(t testing.TB, label string, resp *ca.OCSPResponder, store sdk.CertStore) *ca.Issuer {
	t.Helper()
	cfg, err := profileConfig()
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: label, Certificate: c.cert, Signer: c.key, Profiles: cfg, OCSPResponder: resp, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// countingSigner counts Sign calls (a keystore signer is remote: one call
// per response).
type countingSigner struct {
	crypto.Signer
	mu sync.Mutex
	n  int
}

func (s *countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return s.Signer.Sign(r, d, o)
}

// parsedBasic is what the test reads from the DER itself: the
// responseExtensions, the ResponderID choice and the included certificates.
type parsedBasic struct {
	responderTag int
	responderRaw []byte
	producedAt   time.Time
	extensions   []pkix.Extension
	certs        int
}

func parseBasic(t *testing.T, der []byte) parsedBasic {
	t.Helper()
	var p parsedBasic
	in := cryptobyte.String(der)
	var resp, rb, rbSeq, basicOctets, basic, tbs cryptobyte.String
	var status int
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !in.Empty() ||
		!resp.ReadASN1Enum(&status) || status != 0 ||
		!resp.ReadASN1(&rb, cbasn1.Tag(0).ContextSpecific().Constructed()) ||
		!rb.ReadASN1(&rbSeq, cbasn1.SEQUENCE) || !rbSeq.ReadASN1ObjectIdentifier(&oid) ||
		!rbSeq.ReadASN1(&basicOctets, cbasn1.OCTET_STRING) {
		t.Fatal("malformed OCSPResponse")
	}
	if !basicOctets.ReadASN1(&basic, cbasn1.SEQUENCE) || !basic.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		t.Fatal("malformed BasicOCSPResponse")
	}
	if !basic.SkipASN1(cbasn1.SEQUENCE) || !basic.SkipASN1(cbasn1.BIT_STRING) {
		t.Fatal("malformed signature")
	}
	if basic.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		var certs, seq cryptobyte.String
		if !basic.ReadASN1(&certs, cbasn1.Tag(0).ContextSpecific().Constructed()) || !certs.ReadASN1(&seq, cbasn1.SEQUENCE) {
			t.Fatal("malformed certs")
		}
		for !seq.Empty() {
			if !seq.SkipASN1(cbasn1.SEQUENCE) {
				t.Fatal("malformed certificate")
			}
			p.certs++
		}
	}
	if !basic.Empty() {
		t.Fatal("trailing data in BasicOCSPResponse")
	}
	if !tbs.SkipOptionalASN1(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		t.Fatal("bad version")
	}
	var rid cryptobyte.String
	var ridTag cbasn1.Tag
	if !tbs.ReadAnyASN1(&rid, &ridTag) || !tbs.ReadASN1GeneralizedTime(&p.producedAt) || !tbs.SkipASN1(cbasn1.SEQUENCE) {
		t.Fatal("malformed ResponseData")
	}
	p.responderTag, p.responderRaw = int(ridTag&0x1f), rid
	if tbs.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific().Constructed()) {
		var ext cryptobyte.String
		if !tbs.ReadASN1(&ext, cbasn1.Tag(1).ContextSpecific().Constructed()) {
			t.Fatal("malformed responseExtensions")
		}
		if _, err := asn1.Unmarshal(ext, &p.extensions); err != nil {
			t.Fatal(err)
		}
	}
	if !tbs.Empty() {
		t.Fatal("trailing data in ResponseData")
	}
	return p
}

// parseOCSPFor is ocsp.ParseResponseForCert, which checks the signature
// against the issuer (or the included responder certificate); x/crypto/ocsp
// does not know Ed25519 signatures, so a response signed by an Ed25519 CA
// key is parsed without the issuer and its signature checked here.
func parseOCSPFor(der []byte, leaf, issuer *x509.Certificate, responder *ca.OCSPResponder) (*ocsp.Response, error) {
	if _, ok := issuer.PublicKey.(ed25519.PublicKey); !ok || responder != nil {
		return ocsp.ParseResponseForCert(der, leaf, issuer)
	}
	r, err := ocsp.ParseResponseForCert(der, leaf, nil)
	if err != nil {
		return nil, err
	}
	if r.Certificate != nil {
		return nil, errors.New("unexpected certificate in the response")
	}
	if err := issuer.CheckSignature(x509.PureEd25519, r.TBSResponseData, r.Signature); err != nil {
		return nil, fmt.Errorf("bad Ed25519 OCSP signature: %w", err)
	}
	return r, nil
}

// ---------------------------------------------------------------------------
// SignOCSP

func TestSignOCSP(t *testing.T) {
	ctx := context.Background()
	openssl, _ := testtool.Find(t, "openssl")               // "": checked without openssl
	nonceExt, _ := asn1.Marshal([]byte("0123456789abcdef")) // an OCTET STRING, as clients send
	revokedAt := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

	for _, alg := range []string{"ecdsa", "rsa", "ed25519"} {
		caX := newOCSPCA(t, alg, "OCSP test CA "+alg)
		leafKey := genKey(t, "ecdsa")
		leaf := caX.issue(t, "leaf", leafKey.Public(), false)
		respKey := genKey(t, "ecdsa")
		respCert := caX.issue(t, "OCSP responder "+alg, respKey.Public(), true)
		dir := t.TempDir()
		caPEM := writePEM(t, dir, "ca.pem", caX.cert)
		leafPEM := writePEM(t, dir, "leaf.pem", leaf)

		for _, delegated := range []bool{false, true} {
			caSigner := &countingSigner{Signer: caX.key}
			respSigner := &countingSigner{Signer: respKey}
			var responder *ca.OCSPResponder
			if delegated {
				responder = &ca.OCSPResponder{Certificate: respCert, Signer: respSigner}
			}
			cfg, _ := profileConfig()
			iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "x", Certificate: caX.cert, Signer: caSigner, Profiles: cfg, OCSPResponder: responder})
			if err != nil {
				t.Fatal(err)
			}
			for _, status := range []string{sdk.StatusGood, sdk.StatusRevoked, ca.StatusUnknown} {
				for _, hash := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
					for _, withNonce := range []bool{false, true} {
						name := fmt.Sprintf("%s/delegated=%v/%s/%v/nonce=%v", alg, delegated, status, hash, withNonce)
						t.Run(name, func(t *testing.T) {
							now := time.Now().UTC()
							req := ca.OCSPRequest{Certificate: leaf, Status: status, Hash: hash, Now: now}
							if hash == crypto.SHA1 {
								req.Hash = 0 // the default
							}
							if status == sdk.StatusRevoked {
								req.Reason, req.RevokedAt = 1, revokedAt
							}
							if withNonce {
								req.Nonce = nonceExt
							}
							before := caSigner.n + respSigner.n
							resp, err := iss.SignOCSP(ctx, req)
							if err != nil {
								t.Fatal(err)
							}
							if got := caSigner.n + respSigner.n - before; got != 1 {
								t.Errorf("signer called %d times, want 1", got)
							}
							if delegated && caSigner.n != 0 {
								t.Errorf("the CA key signed although a responder is configured")
							}

							r, err := parseOCSPFor(resp.DER, leaf, caX.cert, responder)
							if err != nil {
								t.Fatalf("ParseResponseForCert: %v", err)
							}
							wantStatus := map[string]int{sdk.StatusGood: ocsp.Good, sdk.StatusRevoked: ocsp.Revoked, ca.StatusUnknown: ocsp.Unknown}[status]
							if r.Status != wantStatus {
								t.Errorf("status %d, want %d", r.Status, wantStatus)
							}
							if r.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
								t.Errorf("serial %v, want %v", r.SerialNumber, leaf.SerialNumber)
							}
							if status == sdk.StatusRevoked {
								if r.RevocationReason != 1 || !r.RevokedAt.Equal(revokedAt) {
									t.Errorf("revoked %v reason %d, want %v reason 1", r.RevokedAt, r.RevocationReason, revokedAt)
								}
							}
							wantThis := now.Truncate(time.Hour)
							if !r.ThisUpdate.Equal(wantThis) || !r.NextUpdate.Equal(wantThis.Add(ca.DefaultOCSPValidity)) {
								t.Errorf("thisUpdate %v nextUpdate %v, want %v + 96h", r.ThisUpdate, r.NextUpdate, wantThis)
							}
							if !resp.ThisUpdate.Equal(r.ThisUpdate) || !resp.NextUpdate.Equal(r.NextUpdate) {
								t.Errorf("OCSPResponse times %v/%v differ from the DER's", resp.ThisUpdate, resp.NextUpdate)
							}
							if !r.ProducedAt.Equal(now.Truncate(time.Minute)) {
								t.Errorf("producedAt %v, want %v", r.ProducedAt, now.Truncate(time.Minute))
							}
							if r.IssuerHash != hash {
								t.Errorf("CertID hash %v, want %v", r.IssuerHash, hash)
							}
							wantName := caX.cert.RawSubject
							if delegated {
								wantName = respCert.RawSubject
							}
							if !bytes.Equal(r.RawResponderName, wantName) {
								t.Errorf("ResponderID is not by the signer's name")
							}
							if delegated != (r.Certificate != nil) {
								t.Errorf("responder certificate included: %v, want %v", r.Certificate != nil, delegated)
							}
							if delegated && !r.Certificate.Equal(respCert) {
								t.Errorf("the included certificate is not the responder's")
							}

							// The CertID names the CA (independently of pkid).
							creq, err := ocsp.CreateRequest(leaf, caX.cert, &ocsp.RequestOptions{Hash: hash})
							if err != nil {
								t.Fatal(err)
							}
							pr, err := ocsp.ParseRequest(creq)
							if err != nil {
								t.Fatal(err)
							}
							if !iss.MatchesCertID(hash, pr.IssuerNameHash, pr.IssuerKeyHash) {
								t.Errorf("MatchesCertID false for this CA's CertID")
							}

							pb := parseBasic(t, resp.DER)
							if pb.responderTag != 1 {
								t.Errorf("ResponderID tag %d, want 1 (byName)", pb.responderTag)
							}
							wantCerts := 0
							if delegated {
								wantCerts = 1
							}
							if pb.certs != wantCerts {
								t.Errorf("%d certificates in the response, want %d", pb.certs, wantCerts)
							}
							var nonce *pkix.Extension
							for k, e := range pb.extensions {
								if e.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}) {
									nonce = &pb.extensions[k]
								}
							}
							switch {
							case withNonce && nonce == nil:
								t.Errorf("no nonce in responseExtensions")
							case withNonce && (!bytes.Equal(nonce.Value, nonceExt) || nonce.Critical):
								t.Errorf("nonce %x critical=%v, want %x non-critical", nonce.Value, nonce.Critical, nonceExt)
							case !withNonce && len(pb.extensions) != 0:
								t.Errorf("unexpected responseExtensions %v", pb.extensions)
							}
							if len(r.Extensions) != 0 {
								t.Errorf("unexpected singleExtensions %v", r.Extensions)
							}

							if openssl == "" {
								return
							}
							respDER := filepath.Join(t.TempDir(), "resp.der")
							if err := os.WriteFile(respDER, resp.DER, 0o644); err != nil {
								t.Fatal(err)
							}
							digest := "-sha1"
							if hash == crypto.SHA256 {
								digest = "-sha256"
							}
							cmd := exec.Command(openssl, "ocsp", "-respin", respDER, "-issuer", caPEM, digest, "-cert", leafPEM, "-CAfile", caPEM, "-no_nonce")
							var stdout, stderr bytes.Buffer
							cmd.Stdout, cmd.Stderr = &stdout, &stderr
							if err := cmd.Run(); err != nil {
								t.Fatalf("openssl: %v\n%s%s", err, stdout.String(), stderr.String())
							}
							want := leafPEM + ": " + status
							if !strings.Contains(stdout.String(), want) || !strings.Contains(stderr.String(), "Response verify OK") {
								t.Errorf("openssl did not accept the response (want %q):\n%s%s", want, stdout.String(), stderr.String())
							}
							if status == sdk.StatusRevoked && !strings.Contains(stdout.String(), "Reason: keyCompromise") {
								t.Errorf("openssl shows no keyCompromise reason:\n%s", stdout.String())
							}
						})
					}
				}
			}
		}
	}
}

func TestSignOCSPValidityAndSerial(t *testing.T) {
	c := newOCSPCA(t, "ecdsa", "validity CA")
	cfg, _ := profileConfig()
	now := time.Date(2026, 5, 6, 7, 59, 59, 0, time.UTC)
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "v", Certificate: c.cert, Signer: c.key, Profiles: cfg, OCSPValidity: 10 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := iss.SignOCSP(context.Background(), ca.OCSPRequest{Serial: big.NewInt(42), Hash: crypto.SHA512})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ocsp.ParseResponse(resp.DER, c.cert)
	if err != nil {
		t.Fatal(err)
	}
	if r.SerialNumber.Int64() != 42 || r.IssuerHash != crypto.SHA512 || r.Status != ocsp.Good {
		t.Errorf("serial %v hash %v status %d", r.SerialNumber, r.IssuerHash, r.Status)
	}
	if want := time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC); !r.ThisUpdate.Equal(want) || !r.NextUpdate.Equal(want.Add(10*time.Hour)) {
		t.Errorf("thisUpdate %v nextUpdate %v: the CA's OCSPValidity is not used", r.ThisUpdate, r.NextUpdate)
	}
	resp, err = iss.SignOCSP(context.Background(), ca.OCSPRequest{Serial: big.NewInt(42), Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if resp.NextUpdate.Sub(resp.ThisUpdate) != time.Hour {
		t.Errorf("req.Validity not used: %v", resp.NextUpdate.Sub(resp.ThisUpdate))
	}
}

func TestSignOCSPErrors(t *testing.T) {
	ctx := context.Background()
	c := newOCSPCA(t, "ecdsa", "errors CA")
	other := newOCSPCA(t, "ecdsa", "another CA")
	iss := c.issuer(t, "e", nil, nil)
	leaf := c.issue(t, "leaf", genKey(t, "ecdsa").Public(), false)

	// Same name, different key: the signature check must catch it.
	impostor := newOCSPCA(t, "ecdsa", "errors CA")
	impostorLeaf := impostor.issue(t, "leaf", genKey(t, "ecdsa").Public(), false)

	tampered := slices.Clone(leaf.Raw)
	tampered[len(tampered)-3] ^= 0xff // inside the signature
	tamperedLeaf, err := x509.ParseCertificate(tampered)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		req  ca.OCSPRequest
		code int
	}{
		{"foreign", ca.OCSPRequest{Certificate: other.issue(t, "x", genKey(t, "ecdsa").Public(), false)}, ca.CodeOCSPForeign},
		{"tampered signature", ca.OCSPRequest{Certificate: tamperedLeaf}, ca.CodeOCSPInvalid},
		{"same name, other key", ca.OCSPRequest{Certificate: impostorLeaf}, ca.CodeOCSPInvalid},
		{"bad status", ca.OCSPRequest{Certificate: leaf, Status: "bogus"}, ca.CodeOCSPInvalid},
		{"bad reason", ca.OCSPRequest{Certificate: leaf, Status: sdk.StatusRevoked, Reason: 7}, ca.CodeOCSPInvalid},
		{"bad hash", ca.OCSPRequest{Certificate: leaf, Hash: crypto.MD5}, ca.CodeOCSPInvalid},
		{"no serial", ca.OCSPRequest{}, ca.CodeOCSPInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := iss.SignOCSP(ctx, tc.req)
			if err == nil {
				t.Fatalf("signed: %x", resp.DER)
			}
			if got := ca.CodeOf(err); got != tc.code {
				t.Errorf("code %d, want %d (%v)", got, tc.code, err)
			}
		})
	}

	// A responder key that does not match its certificate is refused.
	respCert := c.issue(t, "responder", genKey(t, "ecdsa").Public(), true)
	bad := c.issuer(t, "e", &ca.OCSPResponder{Certificate: respCert, Signer: genKey(t, "ecdsa")}, nil)
	if _, err := bad.SignOCSP(ctx, ca.OCSPRequest{Certificate: leaf}); err == nil {
		t.Error("signed with a responder key that does not match its certificate")
	}
	// A responder certificate from another CA is refused.
	k := genKey(t, "ecdsa")
	bad = c.issuer(t, "e", &ca.OCSPResponder{Certificate: other.issue(t, "responder", k.Public(), true), Signer: k}, nil)
	if _, err := bad.SignOCSP(ctx, ca.OCSPRequest{Certificate: leaf}); err == nil {
		t.Error("signed with a responder certificate of another CA")
	}
}

// ---------------------------------------------------------------------------
// MatchesCertID

func TestMatchesCertID(t *testing.T) {
	c := newOCSPCA(t, "rsa", "match CA")
	other := newOCSPCA(t, "ecdsa", "match other CA")
	iss := c.issuer(t, "m", nil, nil)

	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		sum := func(b []byte) []byte { d := h.New(); d.Write(b); return d.Sum(nil) }
		name, key := sum(c.cert.RawSubject), sum(spki.PublicKey.Bytes)
		oName, oKey := sum(other.cert.RawSubject), sum(other.cert.RawSubjectPublicKeyInfo)
		if !iss.MatchesCertID(h, name, key) {
			t.Errorf("%v: own hashes do not match", h)
		}
		if iss.MatchesCertID(h, name, oKey) || iss.MatchesCertID(h, oName, key) {
			t.Errorf("%v: matched with only one of the two hashes", h)
		}
		if iss.MatchesCertID(h, oName, oKey) {
			t.Errorf("%v: matched another CA", h)
		}
		if iss.MatchesCertID(h, key, name) {
			t.Errorf("%v: matched with the hashes swapped", h)
		}
	}
	sha1Name := crypto.SHA1.New()
	sha1Name.Write(c.cert.RawSubject)
	if iss.MatchesCertID(crypto.SHA256, sha1Name.Sum(nil), nil) {
		t.Error("matched a SHA-1 hash as SHA-256")
	}
	if iss.MatchesCertID(crypto.MD5, nil, nil) {
		t.Error("matched with an unsupported hash")
	}
}

// ---------------------------------------------------------------------------
// RefreshOCSP

// ocspMemStore is an in-memory sdk.CertStore. List calls fn under the lock,
// so a re-entrant store call from inside List deadlocks (like SQLite's one
// connection) — RefreshOCSP must not make one.
type ocspMemStore struct {
	mu      sync.Mutex
	recs    map[string]*sdk.CertRecord
	ocsp    map[string]*sdk.OCSPRecord
	puts    int
	getFail error
}

func newOCSPMemStore() *ocspMemStore {
	return &ocspMemStore{recs: map[string]*sdk.CertRecord{}, ocsp: map[string]*sdk.OCSPRecord{}}
}

func storeKey(serial, aki string) string { return serial + "/" + sdk.NormalizeAKI(aki) }

func (m *ocspMemStore) Close() error { return nil }

func (m *ocspMemStore) Put(_ context.Context, r *sdk.CertRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[storeKey(r.Serial, r.AKI)] = r
	return nil
}

func (m *ocspMemStore) Get(_ context.Context, serial, aki string) (*sdk.CertRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.recs[storeKey(serial, aki)]; ok {
		return r, nil
	}
	return nil, sdk.ErrNotFound
}

func (m *ocspMemStore) List(ctx context.Context, f sdk.ListFilter, fn func(*sdk.CertRecord) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*sdk.CertRecord
	for _, r := range m.recs {
		if (f.IssuerLabel != "" && r.IssuerLabel != f.IssuerLabel) || (f.AKI != "" && r.AKI != f.AKI) ||
			(f.Status != "" && r.Status != f.Status) || (!f.ExpiresAfter.IsZero() && !r.NotAfter.After(f.ExpiresAfter)) ||
			(!f.ExpiresBefore.IsZero() && !r.NotAfter.Before(f.ExpiresBefore)) {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *sdk.CertRecord) int {
		if c := a.NotAfter.Compare(b.NotAfter); c != 0 {
			return c
		}
		return strings.Compare(a.Serial, b.Serial)
	})
	for n, r := range out {
		if f.Limit > 0 && n >= f.Limit {
			break
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *ocspMemStore) Revoke(context.Context, sdk.RevokeRequest) error { return sdk.ErrUnimplemented }

func (m *ocspMemStore) PutOCSP(_ context.Context, r *sdk.OCSPRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ocsp[storeKey(r.Serial, r.AKI)] = r
	m.puts++
	return nil
}

func (m *ocspMemStore) GetOCSP(_ context.Context, serial, aki string) (*sdk.OCSPRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.getFail != nil {
		return nil, m.getFail
	}
	if r, ok := m.ocsp[storeKey(serial, aki)]; ok {
		return r, nil
	}
	return nil, sdk.ErrNotFound
}

func TestRefreshOCSP(t *testing.T) {
	ctx := context.Background()
	store := newOCSPMemStore()
	a := newOCSPCA(t, "ecdsa", "refresh CA A")
	b := newOCSPCA(t, "ecdsa", "refresh CA B")
	issA := a.issuer(t, "a", nil, store)
	akiA := hex.EncodeToString(a.cert.SubjectKeyId)

	revokedAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var leaves []*x509.Certificate
	status := map[string]*sdk.CertRecord{}
	for n := range 5 {
		leaf := a.issue(t, fmt.Sprintf("leaf %d", n), genKey(t, "ecdsa").Public(), false)
		rec := ca.Record(leaf, "a", "", nil)
		if n == 1 {
			rec.Status, rec.RevocationReason, rec.RevokedAt = sdk.StatusRevoked, 1, revokedAt
		}
		if n == 2 { // uppercase with colons: normalized before comparing
			rec.AKI = strings.ToUpper(akiA[:2]) + ":" + akiA[2:]
		}
		store.Put(ctx, rec)
		leaves = append(leaves, leaf)
		status[leaf.SerialNumber.String()] = rec
	}
	// Expired: not listed.
	expired := &sdk.CertRecord{Serial: "77", AKI: akiA, IssuerLabel: "a", Status: sdk.StatusGood, NotAfter: time.Now().Add(-time.Hour)}
	store.Put(ctx, expired)
	// Foreign: CA B's certificates, under B's label and (a stale key) under A's.
	for n := range 3 {
		leaf := b.issue(t, fmt.Sprintf("b leaf %d", n), genKey(t, "ecdsa").Public(), false)
		label := "b"
		if n == 0 {
			label = "a"
		}
		store.Put(ctx, ca.Record(leaf, label, "", nil))
	}

	var progress []ca.RefreshResult
	now := time.Now()
	res, err := issA.RefreshOCSP(ctx, ca.RefreshRequest{Now: now, Progress: func(r ca.RefreshResult) { progress = append(progress, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if want := (ca.RefreshResult{Checked: 5, Signed: 5, Skipped: 1}); res != want {
		t.Errorf("first run %+v, want %+v", res, want)
	}
	if len(progress) == 0 || progress[len(progress)-1] != res {
		t.Errorf("progress %+v does not end with the result %+v", progress, res)
	}
	if store.puts != 5 {
		t.Errorf("%d responses stored, want 5", store.puts)
	}
	if _, err := store.GetOCSP(ctx, "77", akiA); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("an expired certificate got a response")
	}
	check := func(now time.Time) {
		t.Helper()
		for _, leaf := range leaves {
			o, err := store.GetOCSP(ctx, leaf.SerialNumber.String(), akiA)
			if err != nil {
				t.Fatalf("no response for %v: %v", leaf.SerialNumber, err)
			}
			r, err := ocsp.ParseResponseForCert(o.Response, leaf, a.cert)
			if err != nil {
				t.Fatal(err)
			}
			rec := status[leaf.SerialNumber.String()]
			want := ocsp.Good
			if rec.Status == sdk.StatusRevoked {
				want = ocsp.Revoked
				if r.RevocationReason != 1 || !r.RevokedAt.Equal(revokedAt) {
					t.Errorf("%v: revoked %v reason %d", leaf.SerialNumber, r.RevokedAt, r.RevocationReason)
				}
			}
			if r.Status != want || r.IssuerHash != crypto.SHA1 || !r.NextUpdate.Equal(o.NextUpdate) {
				t.Errorf("%v: status %d hash %v nextUpdate %v (record %v)", leaf.SerialNumber, r.Status, r.IssuerHash, r.NextUpdate, o.NextUpdate)
			}
			if r.ThisUpdate.After(now) {
				t.Errorf("thisUpdate %v after now %v", r.ThisUpdate, now)
			}
		}
	}
	check(now)

	res, err = issA.RefreshOCSP(ctx, ca.RefreshRequest{Now: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if want := (ca.RefreshResult{Checked: 5, Fresh: 5, Skipped: 1}); res != want || store.puts != 5 {
		t.Errorf("second run %+v (%d stored), want %+v and nothing signed", res, store.puts, want)
	}

	// 60 h later the 96 h responses have less than 48 h left: re-signed.
	later := now.Add(60 * time.Hour)
	res, err = issA.RefreshOCSP(ctx, ca.RefreshRequest{Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if want := (ca.RefreshResult{Checked: 5, Signed: 5, Skipped: 1}); res != want || store.puts != 10 {
		t.Errorf("third run %+v (%d stored), want %+v", res, store.puts, want)
	}
	check(later)
	for _, leaf := range leaves {
		o, _ := store.GetOCSP(ctx, leaf.SerialNumber.String(), akiA)
		if want := later.UTC().Truncate(time.Hour).Add(ca.DefaultOCSPValidity); !o.NextUpdate.Equal(want) {
			t.Errorf("nextUpdate %v, want %v", o.NextUpdate, want)
		}
	}
	// An explicit Within: everything is within 1000 h.
	res, err = issA.RefreshOCSP(ctx, ca.RefreshRequest{Now: later, Within: 1000 * time.Hour})
	if err != nil || res.Signed != 5 {
		t.Errorf("Within 1000h: %+v, %v", res, err)
	}

	// CA B refreshes its own records (label b), skipping none.
	res, err = b.issuer(t, "b", nil, nil).RefreshOCSP(ctx, ca.RefreshRequest{Store: store, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if want := (ca.RefreshResult{Checked: 2, Signed: 2}); res != want {
		t.Errorf("CA B %+v, want %+v", res, want)
	}

	// Store faults and cancellation are returned.
	store.getFail = fmt.Errorf("db down: %w", sdk.ErrUnavailable)
	if _, err := issA.RefreshOCSP(ctx, ca.RefreshRequest{Now: now}); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("store fault: %v", err)
	}
	store.getFail = nil
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := issA.RefreshOCSP(cctx, ca.RefreshRequest{Now: now}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	if _, err := a.issuer(t, "a", nil, nil).RefreshOCSP(ctx, ca.RefreshRequest{}); err == nil {
		t.Error("no store: no error")
	}
}

// The refresh's responses are signed once each through the (remote) signer.
func TestRefreshOCSPSignsOnce(t *testing.T) {
	ctx := context.Background()
	store := newOCSPMemStore()
	c := newOCSPCA(t, "ecdsa", "once CA")
	signer := &countingSigner{Signer: c.key}
	cfg, _ := profileConfig()
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "o", Certificate: c.cert, Signer: signer, Profiles: cfg, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	aki := hex.EncodeToString(c.cert.SubjectKeyId)
	const n = 2500
	for k := range n {
		store.Put(ctx, &sdk.CertRecord{Serial: fmt.Sprint(100000 + k), AKI: aki, IssuerLabel: "o", Status: sdk.StatusGood, NotAfter: time.Now().Add(time.Hour)})
	}
	var calls []int
	res, err := iss.RefreshOCSP(ctx, ca.RefreshRequest{Progress: func(r ca.RefreshResult) { calls = append(calls, r.Checked) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Signed != n || signer.n != n {
		t.Errorf("signed %d with %d signer calls, want %d", res.Signed, signer.n, n)
	}
	if want := []int{1000, 2000, n}; !slices.Equal(calls, want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
}
