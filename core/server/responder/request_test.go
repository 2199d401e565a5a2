package responder

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Requests made by x/crypto/ocsp parse to the same fields as its own parser
// gives.
func TestParseRequestMatchesXCrypto(t *testing.T) {
	c := newTestCA(t, "parse CA")
	serials := []*big.Int{big.NewInt(1), big.NewInt(127), big.NewInt(128), new(big.Int).Lsh(big.NewInt(1), 159)}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		for _, s := range serials {
			der := c.request(t, s, h)
			got, err := ParseRequest(der)
			if err != nil {
				t.Fatalf("%v %v: %v", h, s, err)
			}
			want, err := ocsp.ParseRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			if got.Hash != want.HashAlgorithm || !bytes.Equal(got.NameHash, want.IssuerNameHash) ||
				!bytes.Equal(got.KeyHash, want.IssuerKeyHash) || got.Serial.Cmp(want.SerialNumber) != 0 || got.Nonce != nil {
				t.Errorf("%v %v: got %+v, x/crypto %+v", h, s, got, want)
			}
			// And they name the CA as issuerHashes computes it.
			id := c.certIDOf(t, s, h)
			if !bytes.Equal(got.NameHash, id.NameHash) || !bytes.Equal(got.KeyHash, id.KeyHash) {
				t.Errorf("%v: issuerHashes disagree with x/crypto", h)
			}
		}
	}
}

func TestParseRequestOptionalParts(t *testing.T) {
	c := newTestCA(t, "parse CA")
	id := c.certIDOf(t, big.NewInt(4242), crypto.SHA256)
	v0 := int64(0)
	der := encodeRequest(reqSpec{version: &v0, requestor: true, ids: []*Request{id}, nullParam: true,
		exts: [][2][]byte{{derOID(asn1.ObjectIdentifier{1, 2, 3}), []byte{5, 0}}, nonceExt([]byte("0123456789abcdef"))}, signature: true})
	got, err := ParseRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	wantNonce, _ := asn1.Marshal([]byte("0123456789abcdef"))
	if got.Hash != crypto.SHA256 || got.Serial.Int64() != 4242 || !bytes.Equal(got.NameHash, id.NameHash) ||
		!bytes.Equal(got.KeyHash, id.KeyHash) || !bytes.Equal(got.Nonce, wantNonce) {
		t.Errorf("got %+v", got)
	}
	// Empty Extensions: no nonce.
	got, err = ParseRequest(encodeRequest(reqSpec{ids: []*Request{id}, emptyExts: true}))
	if err != nil || got.Nonce != nil {
		t.Errorf("empty extensions: %+v %v", got, err)
	}
}

func TestParseRequestRejects(t *testing.T) {
	c := newTestCA(t, "parse CA")
	id := c.certIDOf(t, big.NewInt(7), crypto.SHA1)
	good := c.request(t, big.NewInt(7), crypto.SHA1)
	v1 := int64(1)
	short := *id
	short.KeyHash = id.KeyHash[:19]
	mismatch := *id
	mismatch.Hash = crypto.SHA256 // SHA-256 OID with 20-byte hashes
	cases := map[string][]byte{
		"empty":            nil,
		"garbage":          []byte("hello, world"),
		"truncated":        good[:len(good)-1],
		"trailing":         append(append([]byte{}, good...), 0),
		"two requests":     encodeRequest(reqSpec{ids: []*Request{id, id}}),
		"no requests":      encodeRequest(reqSpec{}),
		"md5":              encodeRequest(reqSpec{ids: []*Request{id}, algOID: asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}}),
		"short key hash":   encodeRequest(reqSpec{ids: []*Request{&short}}),
		"length mismatch":  encodeRequest(reqSpec{ids: []*Request{&mismatch}}),
		"version 2":        encodeRequest(reqSpec{version: &v1, ids: []*Request{id}}),
		"duplicate nonce":  encodeRequest(reqSpec{ids: []*Request{id}, exts: [][2][]byte{nonceExt([]byte("a")), nonceExt([]byte("b"))}}),
		"inner trailing":   encodeRequest(reqSpec{ids: []*Request{id}, trailing: []byte{0x05, 0x00}}),
		"an OCSP response": c.respond(t, big.NewInt(7), ocsp.Good, crypto.SHA1, fixedNow, fixedNow.Add(time.Hour)),
		"error response":   malformedRequestDER,
	}
	for name, der := range cases {
		if r, err := ParseRequest(der); err == nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: accepted (%+v) or wrong error %v", name, r, err)
		}
	}
}

// FuzzParseRequest: no panics, and an accepted request re-encodes to one
// that parses to the same fields.
func FuzzParseRequest(f *testing.F) {
	c := newTestCA(f, "fuzz CA")
	f.Add(c.request(f, big.NewInt(12345), crypto.SHA1))
	f.Add(c.request(f, big.NewInt(12345), crypto.SHA256))
	id := c.certIDOf(f, big.NewInt(99), crypto.SHA1)
	v0 := int64(0)
	f.Add(encodeRequest(reqSpec{version: &v0, requestor: true, ids: []*Request{id}, exts: [][2][]byte{nonceExt([]byte("nonce nonce"))}, signature: true}))
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := ParseRequest(der)
		if err != nil {
			if r != nil {
				t.Fatal("request and error")
			}
			return
		}
		if r.Hash.Size() != len(r.NameHash) || len(r.KeyHash) != r.Hash.Size() || r.Serial == nil {
			t.Fatalf("inconsistent %+v", r)
		}
		again, err := ParseRequest(der)
		if err != nil || again.Hash != r.Hash || !bytes.Equal(again.NameHash, r.NameHash) || !bytes.Equal(again.KeyHash, r.KeyHash) ||
			again.Serial.Cmp(r.Serial) != 0 || !bytes.Equal(again.Nonce, r.Nonce) || (again.Nonce == nil) != (r.Nonce == nil) {
			t.Fatalf("re-parse differs: %+v vs %+v (%v)", again, r, err)
		}
		spec := reqSpec{ids: []*Request{r}}
		if r.Nonce != nil {
			spec.exts = [][2][]byte{{derOID(oidNonce), r.Nonce}}
		}
		re, err := ParseRequest(encodeRequest(spec))
		if err != nil || re.Hash != r.Hash || !bytes.Equal(re.NameHash, r.NameHash) || !bytes.Equal(re.KeyHash, r.KeyHash) ||
			re.Serial.Cmp(r.Serial) != 0 || !bytes.Equal(re.Nonce, r.Nonce) {
			t.Fatalf("re-encoded request differs: %+v vs %+v (%v)", re, r, err)
		}
	})
}

// FuzzHandler: any GET path or POST body gets one of the documented
// statuses, never a panic; parseResponseInfo never panics either.
func FuzzHandler(f *testing.F) {
	c := newTestCA(f, "fuzz handler CA")
	resp := c.respond(f, big.NewInt(5), ocsp.Good, crypto.SHA1, fixedNow.Truncate(time.Hour), fixedNow.Add(time.Hour))
	h := NewHandler(&fakeSource{fn: func(_ context.Context, r *Request) ([]byte, error) {
		if r.Serial.Int64() == 5 {
			return resp, nil
		}
		return nil, ErrNotFound
	}}, Options{Now: func() time.Time { return fixedNow }, CacheBytes: 2000})
	f.Add(false, b64(c.request(f, big.NewInt(5), crypto.SHA1)), []byte(nil))
	f.Add(true, "", c.request(f, big.NewInt(6), crypto.SHA256))
	f.Add(true, "", resp)
	f.Fuzz(func(t *testing.T, post bool, path string, body []byte) {
		_, _ = parseResponseInfo(body)
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/" + path}, Header: http.Header{}, Body: http.NoBody}
		if post {
			r.Method, r.Body, r.ContentLength = "POST", io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r.WithContext(context.Background()))
		switch rec.Code {
		case 200, 400, 413:
		default:
			t.Fatalf("status %d", rec.Code)
		}
	})
}
