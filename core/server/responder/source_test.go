package responder

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
	"golang.org/x/crypto/ocsp"
)

func TestStoreSource(t *testing.T) {
	ctx := context.Background()
	c := newTestCA(t, "store CA")
	other := &fakeIssuer{ca: newTestCA(t, "other CA"), now: fixedNow}
	aki := hex.EncodeToString(c.cert.SubjectKeyId)
	if aki == "" {
		t.Fatal("test CA has no SKID")
	}
	type setup struct {
		live, writeBack bool
		stored          bool          // a pre-signed response exists
		storedNext      time.Duration // its NextUpdate relative to now
		record          *sdk.CertRecord
		storeErr        error
		hash            crypto.Hash
		nonce           []byte
		otherCA         bool
		nonceSigners    int
	}
	stored := c.respond(t, big.NewInt(10), ocsp.Good, crypto.SHA1, fixedNow.Add(-time.Hour), fixedNow.Add(time.Hour))
	good := &sdk.CertRecord{Serial: "10", AKI: aki, Status: sdk.StatusGood}
	revoked := &sdk.CertRecord{Serial: "10", AKI: aki, Status: sdk.StatusRevoked, RevocationReason: 4, RevokedAt: fixedNow.Add(-time.Minute)}
	nonce := []byte{4, 2, 0xAA, 0xBB}
	type want struct {
		err      error // errors.Is target; nil: success
		fault    bool  // an error that is not ErrNotFound
		stored   bool  // the pre-signed response itself
		signed   string
		signHash crypto.Hash
		nonce    []byte
		puts     int
	}
	cases := []struct {
		name string
		s    setup
		w    want
	}{
		{"other issuer", setup{live: true, otherCA: true, hash: crypto.SHA1}, want{err: ErrNotFound}},
		{"fresh stored", setup{live: true, stored: true, storedNext: time.Hour, record: good, hash: crypto.SHA1}, want{stored: true}},
		{"fresh stored, not live", setup{stored: true, storedNext: time.Hour, hash: crypto.SHA1}, want{stored: true}},
		{"stale stored, live, write-back", setup{live: true, writeBack: true, stored: true, storedNext: -time.Second, record: good, hash: crypto.SHA1}, want{signed: sdk.StatusGood, signHash: crypto.SHA1, puts: 1}},
		{"stored at nextUpdate is stale", setup{live: true, stored: true, storedNext: 0, record: good, hash: crypto.SHA1}, want{signed: sdk.StatusGood, signHash: crypto.SHA1}},
		{"stale stored, not live", setup{stored: true, storedNext: -time.Second, record: good, hash: crypto.SHA1}, want{err: ErrNotFound}},
		{"missing stored, live", setup{live: true, record: revoked, hash: crypto.SHA1}, want{signed: sdk.StatusRevoked, signHash: crypto.SHA1}},
		{"sha256, live, write-back skipped", setup{live: true, writeBack: true, stored: true, storedNext: time.Hour, record: good, hash: crypto.SHA256}, want{signed: sdk.StatusGood, signHash: crypto.SHA256}},
		{"sha512, not live", setup{stored: true, storedNext: time.Hour, record: good, hash: crypto.SHA512}, want{err: ErrNotFound}},
		{"nonce, live", setup{live: true, writeBack: true, stored: true, storedNext: time.Hour, record: good, hash: crypto.SHA1, nonce: nonce}, want{signed: sdk.StatusGood, signHash: crypto.SHA1, nonce: nonce}},
		{"nonce, live, nonce signing off", setup{live: true, stored: true, storedNext: time.Hour, record: good, hash: crypto.SHA1, nonce: nonce, nonceSigners: -1}, want{stored: true}},
		{"nonce, not live", setup{stored: true, storedNext: time.Hour, record: good, hash: crypto.SHA1, nonce: nonce}, want{stored: true}},
		{"unknown serial, live", setup{live: true, hash: crypto.SHA384}, want{signed: ca.StatusUnknown, signHash: crypto.SHA384}},
		{"unknown serial, nonce", setup{live: true, hash: crypto.SHA256, nonce: nonce}, want{signed: ca.StatusUnknown, signHash: crypto.SHA256, nonce: nonce}},
		{"unknown serial, not live", setup{hash: crypto.SHA1}, want{err: ErrNotFound}},
		{"unknown serial, live, request-driven signing off", setup{live: true, hash: crypto.SHA1, nonceSigners: -1}, want{err: ErrNotFound}},
		{"known serial, live, request-driven signing off", setup{live: true, record: good, hash: crypto.SHA256, nonceSigners: -1}, want{signed: sdk.StatusGood, signHash: crypto.SHA256}},
		{"store fault", setup{live: true, storeErr: sdk.ErrUnavailable, hash: crypto.SHA1}, want{fault: true}},
		{"store fault sha256", setup{live: true, storeErr: sdk.ErrUnavailable, hash: crypto.SHA256}, want{fault: true}},
		{"store fault, not live", setup{storeErr: sdk.ErrUnavailable, hash: crypto.SHA1}, want{fault: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			if tc.s.stored {
				store.ocsps["10/"+aki] = &sdk.OCSPRecord{Serial: "10", AKI: aki, Response: stored, NextUpdate: fixedNow.Add(tc.s.storedNext)}
			}
			if tc.s.record != nil {
				store.certs["10/"+aki] = tc.s.record
			}
			store.err = tc.s.storeErr
			iss := &fakeIssuer{ca: c, now: fixedNow}
			src := &StoreSource{Issuers: []Issuer{other, iss}, Store: store, Live: tc.s.live, WriteBack: tc.s.writeBack, NonceSigners: tc.s.nonceSigners, Now: func() time.Time { return fixedNow }}
			req := c.certIDOf(t, big.NewInt(10), tc.s.hash)
			if tc.s.otherCA {
				req = newTestCA(t, "stranger").certIDOf(t, big.NewInt(10), tc.s.hash)
			}
			req.Nonce = tc.s.nonce
			der, err := src.Response(ctx, req)
			switch {
			case tc.w.err != nil:
				if !errors.Is(err, tc.w.err) {
					t.Fatalf("err %v, want %v", err, tc.w.err)
				}
				return
			case tc.w.fault:
				if err == nil || errors.Is(err, ErrNotFound) || !errors.Is(err, tc.s.storeErr) {
					t.Fatalf("err %v, want a wrapped store fault", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			signs := iss.signed()
			if tc.w.stored {
				if !bytes.Equal(der, stored) || len(signs) != 0 {
					t.Fatalf("not the stored response (%d signatures)", len(signs))
				}
				return
			}
			if len(signs) != 1 {
				t.Fatalf("%d signatures, want 1", len(signs))
			}
			s := signs[0]
			if s.Status != tc.w.signed || s.Hash != tc.w.signHash || !bytes.Equal(s.Nonce, tc.w.nonce) || s.Serial.Int64() != 10 {
				t.Errorf("signed %+v", s)
			}
			if tc.w.signed == sdk.StatusRevoked && (s.Reason != 4 || !s.RevokedAt.Equal(revoked.RevokedAt)) {
				t.Errorf("revocation not carried: %+v", s)
			}
			r, err := ocsp.ParseResponse(der, c.cert)
			if err != nil || r.SerialNumber.Int64() != 10 {
				t.Fatalf("response: %v", err)
			}
			if store.puts != tc.w.puts {
				t.Errorf("PutOCSP calls %d, want %d", store.puts, tc.w.puts)
			}
			if tc.w.puts > 0 && !bytes.Equal(store.ocsps["10/"+aki].Response, der) {
				t.Error("written-back response differs")
			}
		})
	}
}

func TestFileSource(t *testing.T) {
	ctx := context.Background()
	a, b := newTestCA(t, "file CA A"), newTestCA(t, "file CA B")
	this := fixedNow.Truncate(time.Hour)
	a1 := a.respond(t, big.NewInt(1), ocsp.Good, crypto.SHA1, this, this.Add(time.Hour))
	a1old := a.respond(t, big.NewInt(1), ocsp.Revoked, crypto.SHA1, this.Add(-time.Hour), this.Add(time.Hour))
	b1 := b.respond(t, big.NewInt(1), ocsp.Revoked, crypto.SHA1, this, this.Add(time.Hour))
	a2 := a.respond(t, big.NewInt(2), ocsp.Good, crypto.SHA256, this, this.Add(time.Hour))
	dir := t.TempDir()
	path := filepath.Join(dir, "responses")
	content := b64(a1) + "\n" + b64(a1old) + "  \t" + b64(b1) + "\r\n\n" + b64(a2) + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, issuers := range [][]*testCA{nil, {a, b}} {
		var certs []*x509.Certificate
		for _, c := range issuers {
			certs = append(certs, c.cert)
		}
		fs, err := LoadResponsesFile(path, certs...)
		if err != nil {
			t.Fatal(err)
		}
		if fs.Len() != 3 {
			t.Errorf("%d responses, want 3", fs.Len())
		}
		for _, tc := range []struct {
			req  *Request
			want []byte
		}{
			{a.certIDOf(t, big.NewInt(1), crypto.SHA1), a1}, // later thisUpdate wins
			{b.certIDOf(t, big.NewInt(1), crypto.SHA1), b1},
			{a.certIDOf(t, big.NewInt(2), crypto.SHA256), a2},
			{a.certIDOf(t, big.NewInt(1), crypto.SHA256), nil},
			{a.certIDOf(t, big.NewInt(2), crypto.SHA1), nil},
			{a.certIDOf(t, big.NewInt(3), crypto.SHA1), nil},
		} {
			der, err := fs.Response(ctx, tc.req)
			if tc.want == nil {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("%v/%v: err %v, want ErrNotFound", tc.req.Hash, tc.req.Serial, err)
				}
			} else if err != nil || !bytes.Equal(der, tc.want) {
				t.Errorf("%v/%v: wrong response (%v)", tc.req.Hash, tc.req.Serial, err)
			}
		}
	}
	// Issuer check: B's response is refused when only A is given, and a
	// response not signed by its issuer is refused.
	if _, err := LoadResponsesFile(path, a.cert); err == nil || !strings.Contains(err.Error(), "not about") {
		t.Errorf("foreign response accepted: %v", err)
	}
	forged, _ := ocspCreateWith(t, a, b, big.NewInt(9))
	bad := filepath.Join(dir, "forged")
	os.WriteFile(bad, []byte(b64(forged)), 0o600)
	if _, err := LoadResponsesFile(bad, a.cert); err == nil {
		t.Error("response signed by another key accepted")
	}
	for name, data := range map[string]string{"not base64": "!!!", "not a response": b64([]byte("hello")), "error response": b64(unauthorizedDER)} {
		os.WriteFile(bad, []byte(data), 0o600)
		if _, err := LoadResponsesFile(bad); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := LoadResponsesFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}

// ocspCreateWith makes a response naming issuer's CertID but signed with
// signer's key.
func ocspCreateWith(t *testing.T, issuer, signer *testCA, serial *big.Int) ([]byte, error) {
	return ocsp.CreateResponse(issuer.cert, issuer.cert, ocsp.Response{Status: ocsp.Good, SerialNumber: serial,
		ThisUpdate: fixedNow, NextUpdate: fixedNow.Add(time.Hour)}, signer.key)
}

// Nonce signing is bounded: with every slot taken, a nonce request gets
// the pre-signed response (no nonce) instead of another live signature.
func TestStoreSourceNonceSaturated(t *testing.T) {
	c := newTestCA(t, "nonce CA")
	aki := hex.EncodeToString(c.cert.SubjectKeyId)
	stored := c.respond(t, big.NewInt(10), ocsp.Good, crypto.SHA1, fixedNow.Add(-time.Hour), fixedNow.Add(time.Hour))
	store := newMemStore()
	store.ocsps["10/"+aki] = &sdk.OCSPRecord{Serial: "10", AKI: aki, Response: stored, NextUpdate: fixedNow.Add(time.Hour)}
	store.certs["10/"+aki] = &sdk.CertRecord{Serial: "10", AKI: aki, Status: sdk.StatusGood}
	src := &StoreSource{Issuers: []Issuer{&fakeIssuer{ca: c, now: fixedNow}}, Store: store, Live: true, NonceSigners: 1, Now: func() time.Time { return fixedNow }}
	release, ok := src.nonceSlot()
	if !ok {
		t.Fatal("no free slot at start")
	}
	req := c.certIDOf(t, big.NewInt(10), crypto.SHA1)
	req.Nonce = []byte{4, 1, 7}
	der, err := src.Response(context.Background(), req)
	if err != nil || !bytes.Equal(der, stored) {
		t.Fatalf("saturated: want the stored response, got err %v", err)
	}
	release()
	der, err = src.Response(context.Background(), req)
	if err != nil || bytes.Equal(der, stored) {
		t.Fatalf("free slot: want a live-signed response, got err %v (stored: %v)", err, bytes.Equal(der, stored))
	}
}
