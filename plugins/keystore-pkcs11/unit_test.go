package keystorepkcs11

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/pkid/pkid/sdk"
)

func TestParseKeyRef(t *testing.T) {
	for _, c := range []struct {
		in    string
		label string
		id    []byte
		token string
	}{
		{"issuing-2026", "issuing-2026", nil, ""},
		{"pkcs11:token=pkid;object=issuing%202026;type=private", "issuing 2026", nil, "pkid"},
		{"pkcs11:id=%01%02;type=private", "", []byte{1, 2}, ""},
		{"pkcs11:object=a;id=%61?pin-source=file:/x", "a", []byte("a"), ""},
	} {
		r, err := parseKeyRef(c.in)
		if err != nil {
			t.Fatalf("parseKeyRef(%q): %v", c.in, err)
		}
		if r.Label != c.label || !bytes.Equal(r.ID, c.id) || r.Token != c.token {
			t.Errorf("parseKeyRef(%q) = %+v", c.in, r)
		}
	}
	for _, bad := range []string{"", "pkcs11:", "pkcs11:type=cert;object=a", "pkcs11:object=%zz", "pkcs11:object"} {
		if _, err := parseKeyRef(bad); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("parseKeyRef(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
	u := keyURI("my token", "k 1", []byte("k1"))
	if u != "pkcs11:token=my%20token;object=k%201;id=%6B%31;type=private" {
		t.Errorf("keyURI = %q", u)
	}
	r, err := parseKeyRef(u)
	if err != nil || r.Label != "k 1" || string(r.ID) != "k1" || r.Token != "my token" {
		t.Errorf("round trip of %q: %+v, %v", u, r, err)
	}
}

func TestDigestInfo(t *testing.T) {
	d := sha256.Sum256([]byte("x"))
	// RFC 8017, section 9.2 note 1: the SHA-256 DigestInfo prefix.
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	if got := digestInfo(crypto.SHA256, d[:]); !bytes.Equal(got, append(prefix, d[:]...)) {
		t.Errorf("digestInfo(SHA256) = %x", got)
	}
}

func TestCurveOf(t *testing.T) {
	for _, alg := range []string{sdk.AlgECDSAP256, sdk.AlgECDSAP384, sdk.AlgECDSAP521, sdk.AlgEd25519} {
		p, _ := ecParams(alg)
		if got, err := curveOf(p); err != nil || got != alg {
			t.Errorf("curveOf(ecParams(%s)) = %q, %v", alg, got, err)
		}
	}
	// PrintableString "edwards25519", as some tokens write it.
	if got, err := curveOf(append([]byte{0x13, 12}, "edwards25519"...)); err != nil || got != sdk.AlgEd25519 {
		t.Errorf("curveOf(edwards25519) = %q, %v", got, err)
	}
}
