package keystoresplit

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
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

// TestTokenFingerprintMatchesOpenSSL: the fingerprint in the record is
// what a custodian computes with openssl from their token's public key.
func TestTokenFingerprintMatchesOpenSSL(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	rec, _ := softRecipient(t, ecdh.P384(), "P-384")
	pub, _ := rec.publicKey()
	der, _ := x509.MarshalPKIXPublicKey(pub)
	in := filepath.Join(t.TempDir(), "pub.pem")
	os.WriteFile(in, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	out, err := exec.Command(openssl, "pkey", "-pubin", "-in", in, "-outform", "DER").Output()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out)
	if got := rec.fingerprint(); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("fingerprint %s, openssl's DER hashes to %x", got, sum)
	}
}

// TestConfigTokenCustodians: a block's custodians may be token recipients
// (keys made by generate or import are sealed to them at once).
func TestConfigTokenCustodians(t *testing.T) {
	rec, key := softRecipient(t, ecdh.P256(), "P-256")
	cs := newCustodians(t, "alice")
	dir := filepath.Join(t.TempDir(), "s")
	js, _ := json.Marshal(map[string]any{"state_dir": dir, "threshold": 2, "poll_interval": "50ms",
		"custodians": map[string]string{"alice": cs["alice"].Recipient().String(), "carol": rec.String()}})
	inst, err := New().Configure(context.Background(), sdk.Config{Kind: sdk.KindKeyStore, Instance: "t", JSON: js})
	if err != nil {
		t.Fatalf("config with a token custodian: %v", err)
	}
	defer inst.Close()
	s := inst.(*instance).store
	genKey(t, s, "k")
	kf, _ := readKeyFile(dir, "k")
	if c, _ := kf.custodian("carol"); c == nil || c.Kind != kindPKCS11 || c.Token.Fingerprint != rec.fingerprint() {
		t.Fatalf("carol in the record: %+v", c)
	}
	// carol's share opens with her (here: software) token key only.
	if _, err := delegate(delegateRequest{StateDir: dir, Key: "k", Custodian: "carol", Purpose: "p", For: time.Hour, Uses: 1,
		Identities: []age.Identity{cs["alice"]}}); err == nil || !strings.Contains(err.Error(), `custodian "carol"`) {
		t.Fatalf("carol's share with alice's identity: %v", err)
	}
	if _, err := delegate(delegateRequest{StateDir: dir, Key: "k", Custodian: "carol", Purpose: "p", For: time.Hour, Uses: 1,
		Identities: []age.Identity{&tokenIdentity{rec: rec, key: key}}}); err != nil {
		t.Fatal(err)
	}
	cs.give(t, dir, "k", time.Hour, 1, "alice")
	mustSign(t, s, "k")
}
