package responder

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// testCA is a self-signed ECDSA P-256 CA made with x509.CreateCertificate.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"pkid test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// leaf issues a leaf certificate with the given serial.
func (c *testCA) leaf(t testing.TB, serial *big.Int) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "leaf.example.com"},
		DNSNames:     []string{"leaf.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(12 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// request makes a DER OCSP request with x/crypto/ocsp.
func (c *testCA) request(t testing.TB, serial *big.Int, h crypto.Hash) []byte {
	t.Helper()
	der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: serial}, c.cert, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// respond signs a response with x/crypto/ocsp.
func (c *testCA) respond(t testing.TB, serial *big.Int, status int, h crypto.Hash, thisUpdate, nextUpdate time.Time) []byte {
	t.Helper()
	der, err := ocsp.CreateResponse(c.cert, c.cert, ocsp.Response{
		Status: status, SerialNumber: serial, ThisUpdate: thisUpdate, NextUpdate: nextUpdate,
		IssuerHash: h, RevokedAt: thisUpdate, RevocationReason: ocsp.KeyCompromise,
	}, c.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// certIDOf is the CertID of serial under c with h.
func (c *testCA) certIDOf(t testing.TB, serial *big.Int, h crypto.Hash) *Request {
	t.Helper()
	nh, kh, err := issuerHashes(c.cert, h)
	if err != nil {
		t.Fatal(err)
	}
	return &Request{Hash: h, NameHash: nh, KeyHash: kh, Serial: serial}
}

var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA1: oidSHA1, crypto.SHA256: oidSHA256, crypto.SHA384: oidSHA384, crypto.SHA512: oidSHA512,
}

// reqSpec describes a hand-encoded OCSPRequest, for what x/crypto cannot
// produce (nonces, versions, several Requests, signatures).
type reqSpec struct {
	version   *int64
	requestor bool
	ids       []*Request // the Requests
	algOID    asn1.ObjectIdentifier
	nullParam bool
	exts      [][2][]byte // (DER OID, extnValue contents)
	emptyExts bool
	signature bool
	trailing  []byte
}

func derOID(oid asn1.ObjectIdentifier) []byte {
	b, err := asn1.Marshal(oid)
	if err != nil {
		panic(err)
	}
	return b
}

func encodeRequest(s reqSpec) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if s.version != nil {
				b.AddASN1(tag0, func(b *cryptobyte.Builder) { b.AddASN1Int64(*s.version) })
			}
			if s.requestor {
				b.AddASN1(tag1, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte("ocsp.example")) })
				})
			}
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, id := range s.ids {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								oid := s.algOID
								if oid == nil {
									oid = hashOIDs[id.Hash]
								}
								b.AddASN1ObjectIdentifier(oid)
								if s.nullParam {
									b.AddASN1NULL()
								}
							})
							b.AddASN1OctetString(id.NameHash)
							b.AddASN1OctetString(id.KeyHash)
							b.AddASN1BigInt(id.Serial)
						})
					})
				}
			})
			if len(s.exts) > 0 || s.emptyExts {
				b.AddASN1(tag2, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						for _, e := range s.exts {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddBytes(e[0])
								b.AddASN1OctetString(e[1])
							})
						}
					})
				})
			}
		})
		if s.signature {
			b.AddASN1(tag0, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2})
					})
					b.AddASN1BitString([]byte{1, 2, 3})
				})
			})
		}
	})
	out := b.BytesOrPanic()
	return append(out, s.trailing...)
}

// nonceExt is a nonce extension whose extnValue wraps nonce in an OCTET
// STRING (RFC 8954, what openssl sends).
func nonceExt(nonce []byte) [2][]byte {
	v, _ := asn1.Marshal(nonce)
	return [2][]byte{derOID(oidNonce), v}
}

// fakeSource answers from a function and counts calls.
type fakeSource struct {
	calls atomic.Int64
	fn    func(ctx context.Context, req *Request) ([]byte, error)
}

func (f *fakeSource) Response(ctx context.Context, req *Request) ([]byte, error) {
	f.calls.Add(1)
	return f.fn(ctx, req)
}

// fakeIssuer is an Issuer signing with x/crypto/ocsp (no nonce support)
// and recording what it was asked.
type fakeIssuer struct {
	ca    *testCA
	mu    sync.Mutex
	signs []ca.OCSPRequest
	now   time.Time
}

func (f *fakeIssuer) Label() string                  { return "fake" }
func (f *fakeIssuer) Certificate() *x509.Certificate { return f.ca.cert }
func (f *fakeIssuer) MatchesCertID(h crypto.Hash, nameHash, keyHash []byte) bool {
	nh, kh, err := issuerHashes(f.ca.cert, h)
	return err == nil && string(nh) == string(nameHash) && string(kh) == string(keyHash)
}

func (f *fakeIssuer) SignOCSP(_ context.Context, req ca.OCSPRequest) (*ca.OCSPResponse, error) {
	f.mu.Lock()
	f.signs = append(f.signs, req)
	f.mu.Unlock()
	st := map[string]int{"": ocsp.Good, sdk.StatusGood: ocsp.Good, sdk.StatusRevoked: ocsp.Revoked, ca.StatusUnknown: ocsp.Unknown}[req.Status]
	this := f.now.Truncate(time.Hour)
	next := this.Add(96 * time.Hour)
	der, err := ocsp.CreateResponse(f.ca.cert, f.ca.cert, ocsp.Response{Status: st, SerialNumber: req.Serial, ThisUpdate: this, NextUpdate: next,
		IssuerHash: req.Hash, RevokedAt: req.RevokedAt, RevocationReason: req.Reason}, f.ca.key)
	if err != nil {
		return nil, err
	}
	return &ca.OCSPResponse{DER: der, ThisUpdate: this, NextUpdate: next}, nil
}

func (f *fakeIssuer) OCSPForRecord(ctx context.Context, rec *sdk.CertRecord, h crypto.Hash, nonce []byte) (*ca.OCSPResponse, error) {
	serial, _ := new(big.Int).SetString(rec.Serial, 10)
	return f.SignOCSP(ctx, ca.OCSPRequest{Serial: serial, Status: rec.Status, Reason: rec.RevocationReason, RevokedAt: rec.RevokedAt, Hash: h, Nonce: nonce})
}

func (f *fakeIssuer) signed() []ca.OCSPRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ca.OCSPRequest(nil), f.signs...)
}

// memStore is an in-memory sdk.CertStore; err, when set, fails every call.
type memStore struct {
	mu    sync.Mutex
	certs map[string]*sdk.CertRecord
	ocsps map[string]*sdk.OCSPRecord
	err   error
	puts  int
}

func newMemStore() *memStore {
	return &memStore{certs: map[string]*sdk.CertRecord{}, ocsps: map[string]*sdk.OCSPRecord{}}
}

func (m *memStore) Close() error { return nil }
func (m *memStore) Put(_ context.Context, r *sdk.CertRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.certs[r.Serial+"/"+r.AKI] = r
	return nil
}
func (m *memStore) Get(_ context.Context, serial, aki string) (*sdk.CertRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	r, ok := m.certs[serial+"/"+aki]
	if !ok {
		return nil, sdk.ErrNotFound
	}
	return r, nil
}
func (m *memStore) List(context.Context, sdk.ListFilter, func(*sdk.CertRecord) error) error {
	return sdk.ErrUnimplemented
}
func (m *memStore) Revoke(context.Context, sdk.RevokeRequest) error { return sdk.ErrUnimplemented }
func (m *memStore) PutOCSP(_ context.Context, r *sdk.OCSPRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	m.ocsps[r.Serial+"/"+r.AKI] = r
	return nil
}
func (m *memStore) GetOCSP(_ context.Context, serial, aki string) (*sdk.OCSPRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	r, ok := m.ocsps[serial+"/"+aki]
	if !ok {
		return nil, sdk.ErrNotFound
	}
	return r, nil
}

func writePEMFile(t testing.TB, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var sb strings.Builder
	for _, c := range certs {
		sb.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func b64(der []byte) string { return base64.StdEncoding.EncodeToString(der) }
