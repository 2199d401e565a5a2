package keystoresplit

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
)

// softRecipient is a token recipient whose key is in software.
func softRecipient(t testing.TB, curve ecdh.Curve, name string) (*tokenRecipient, softTokenKey) {
	t.Helper()
	priv, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &tokenRecipient{Token: "tok", Serial: "0001", KeyID: "0a0b", Curve: name, Point: priv.PublicKey().Bytes()}, softTokenKey{priv}
}

func ageSeal(t testing.TB, r age.Recipient, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	w.Close()
	return buf.Bytes()
}

// TestTokenSeal: the ECDH stanza opens with the token's key only, on both
// curves, and a tampered stanza is an error, not a silent mismatch.
func TestTokenSeal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		curve ecdh.Curve
	}{{"P-256", ecdh.P256()}, {"P-384", ecdh.P384()}} {
		t.Run(tc.name, func(t *testing.T) {
			rec, key := softRecipient(t, tc.curve, tc.name)
			parsed, err := parseTokenRecipient(rec.String())
			if err != nil || parsed.fingerprint() != rec.fingerprint() {
				t.Fatalf("round trip: %v", err)
			}
			sealed := ageSeal(t, parsed, []byte("a share"))
			if !bytes.Contains(sealed, []byte("-> "+tokenStanzaType+" "+rec.tag()+" ")) {
				t.Fatalf("no %s stanza: %q", tokenStanzaType, sealed)
			}
			r, err := age.Decrypt(bytes.NewReader(sealed), &tokenIdentity{rec: rec, key: key})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := io.ReadAll(r); string(got) != "a share" {
				t.Fatalf("opened %q", got)
			}
			// Another token key: no match.
			other, okey := softRecipient(t, tc.curve, tc.name)
			_, err = age.Decrypt(bytes.NewReader(sealed), &tokenIdentity{rec: other, key: okey})
			var nm *age.NoIdentityMatchError
			if !errors.As(err, &nm) {
				t.Fatalf("another key: %v", err)
			}
			// The right tag with the wrong key (a token that lies about
			// its public key): the AEAD refuses.
			_, err = age.Decrypt(bytes.NewReader(sealed), &tokenIdentity{rec: rec, key: okey})
			if err == nil || !strings.Contains(err.Error(), "does not open with the token key") {
				t.Fatalf("wrong private key: %v", err)
			}
			// A token failure is reported as one.
			_, err = age.Decrypt(bytes.NewReader(sealed), &tokenIdentity{rec: rec, key: failingKey{}})
			var tf *errTokenFailed
			if !errors.As(err, &tf) {
				t.Fatalf("token failure: %v", err)
			}
		})
	}
}

type failingKey struct{}

func (failingKey) ECDH([]byte) ([]byte, error) { return nil, errors.New("CKR_DEVICE_ERROR") }

func TestParseTokenRecipientRefuses(t *testing.T) {
	rec, _ := softRecipient(t, ecdh.P256(), "P-256")
	mut := func(f func(r *tokenRecipient)) string {
		c := *rec
		f(&c)
		return c.String()
	}
	for name, s := range map[string]string{
		"no prefix":    strings.TrimPrefix(rec.String(), tokenRecipientPrefix),
		"not base64":   tokenRecipientPrefix + "!!!",
		"not json":     tokenRecipientPrefix + "AAAA",
		"too long":     tokenRecipientPrefix + strings.Repeat("A", maxTokenRecipient),
		"curve":        mut(func(r *tokenRecipient) { r.Curve = "P-521" }),
		"point":        mut(func(r *tokenRecipient) { r.Point = r.Point[:10] }),
		"wrong curve":  mut(func(r *tokenRecipient) { r.Curve = "P-384" }),
		"key id":       mut(func(r *tokenRecipient) { r.KeyID = "XYZ" }),
		"upper key id": mut(func(r *tokenRecipient) { r.KeyID = "0A0B" }),
		"no token":     mut(func(r *tokenRecipient) { r.Token = "" }),
		"label":        mut(func(r *tokenRecipient) { r.Token = "a\x00b" }),
	} {
		if _, err := parseTokenRecipient(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzTokenRecipient feeds the token recipient parser (the -custodians
// flag, rotation requests): no panic, and what it accepts prints back to
// itself and seals.
func FuzzTokenRecipient(f *testing.F) {
	rec, _ := softRecipient(f, ecdh.P256(), "P-256")
	f.Add(rec.String())
	f.Add(tokenRecipientPrefix + "e30")
	f.Add(tokenRecipientPrefix)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseTokenRecipient(s)
		if err != nil {
			return
		}
		again, err := parseTokenRecipient(r.String())
		if err != nil || again.String() != r.String() {
			t.Fatalf("%q does not round-trip: %v", s, err)
		}
		if _, err := r.Wrap(make([]byte, 16)); err != nil {
			t.Fatalf("accepted %q but cannot seal to it: %v", s, err)
		}
	})
}
