//go:build cgo && !nopkcs11

package keystoresplit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// softHSM is a throw-away SoftHSM2 token directory, one token per
// custodian. SOFTHSM2_CONF is set for the test (t.Setenv: not parallel),
// and read when the module is initialised, which each token use does.
type softHSM struct {
	module, conf string
}

func newSoftHSM(t *testing.T) *softHSM {
	t.Helper()
	module, conf, ok := softHSMConf(t)
	if !ok {
		t.Skip("SoftHSM2 is not installed (apt-get install softhsm2)")
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	return &softHSM{module: module, conf: conf}
}

// token initialises a token labelled label, with hsmPIN.
func (h *softHSM) token(t *testing.T, label string) { initToken(t, h.conf, label) }

// recipient generates the custodian key on token label with the
// token-recipient command and returns the recipient it prints.
func (h *softHSM) recipient(t *testing.T, label string) *tokenRecipient {
	t.Helper()
	code, out, err := run(t, New(), hsmPIN+"\n", "token-recipient", "-pkcs11-module", h.module, "-token-label", label, "-generate")
	if code != 0 || err != nil {
		t.Fatalf("token-recipient -generate on %s = %d, %v: %s", label, code, err, out)
	}
	line, _, _ := strings.Cut(out, "\n")
	rec, err := parseTokenRecipient(line)
	if err != nil {
		t.Fatalf("token-recipient printed %q: %v", line, err)
	}
	// Without -generate it finds the same key, with no PIN (the public
	// half is a public object).
	code, again, err := run(t, New(), "", "token-recipient", "-pkcs11-module", h.module, "-token-label", label)
	if code != 0 || err != nil || !strings.HasPrefix(again, line+"\n") {
		t.Fatalf("token-recipient on %s = %d, %v: %s", label, code, err, again)
	}
	return rec
}

// delegateToken runs delegate for a token custodian; args are extra flags.
func (h *softHSM) delegate(t *testing.T, dir, key, custodian, stdin string, args ...string) (int, string, error) {
	t.Helper()
	return run(t, New(), stdin, "delegate", append([]string{"-dir", dir, "-key", key, "-custodian", custodian,
		"-pkcs11-module", h.module, "-for", "1h", "-uses", "5", "-purpose", "token test"}, args...)...)
}

// TestTokenCustodian: a 2-of-3 split among an age custodian, a passphrase
// custodian and a SoftHSM2 token custodian. The token custodian's share is
// unsealed on the token; a wrong PIN and a token with another key fail,
// naming the custodian.
func TestTokenCustodian(t *testing.T) {
	h := newSoftHSM(t)
	h.token(t, "carol-token")
	h.token(t, "spare")
	carol := h.recipient(t, "carol-token")
	cs := newCustodians(t, "alice")
	dir := filepath.Join(t.TempDir(), "s")
	code, out, err := run(t, New(), "bob's passphrase\n", "ceremony", "-dir", dir, "-key", "root", "-m", "2", "-work-factor", "10",
		"-custodians", "alice="+cs["alice"].Recipient().String()+",bob=passphrase,carol="+carol.String())
	if code != 0 || err != nil {
		t.Fatalf("ceremony = %d, %v: %s", code, err, out)
	}
	// The printed, signed record names carol's token, key and fingerprint.
	kf, err := readKeyFile(dir, "root")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := kf.custodian("carol")
	if c.Kind != kindPKCS11 || c.Token == nil || c.Token.Token != "carol-token" || c.Token.Serial == "" ||
		c.Token.KeyID != carol.KeyID || c.Token.Fingerprint != carol.fingerprint() || len(c.Token.Fingerprint) != 64 {
		t.Fatalf("record of carol: %+v %+v", c, c.Token)
	}
	if !strings.Contains(out, `"fingerprint": "`+carol.fingerprint()+`"`) {
		t.Fatalf("the printed record does not show carol's key fingerprint: %s", out)
	}
	// The key named by its id instead of its label.
	if code, byID, err := run(t, New(), "", "token-recipient", "-pkcs11-module", h.module, "-token-label", "carol-token", "-key-id", carol.KeyID); code != 0 ||
		err != nil || !strings.HasPrefix(byID, carol.String()+"\n") {
		t.Fatalf("token-recipient -key-id = %d, %v: %s", code, err, byID)
	}

	js, _ := json.Marshal(map[string]any{"state_dir": dir, "poll_interval": "50ms"})
	inst, err := New().Configure(context.Background(), sdk.Config{Kind: sdk.KindKeyStore, Instance: "ca", JSON: js})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	s := inst.(*instance).store

	// A wrong PIN (from the environment) fails clearly, naming carol.
	t.Setenv(pinEnv, "not-the-pin")
	code, _, err = h.delegate(t, dir, "root", "carol", "")
	if code != 1 || err == nil || !strings.Contains(err.Error(), `custodian "carol"`) || !strings.Contains(err.Error(), "PIN was refused") {
		t.Fatalf("wrong PIN = %d, %v", code, err)
	}
	t.Setenv(pinEnv, "")
	code, _, err = h.delegate(t, dir, "root", "carol", "", "-pin", "1234")
	if code != 1 || err == nil || !strings.Contains(err.Error(), `custodian "carol": token "carol-token": the PIN was refused`) {
		t.Fatalf("wrong -pin = %d, %v", code, err)
	}
	emptyPIN := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(emptyPIN, nil, 0o600)
	if code, _, err = h.delegate(t, dir, "root", "carol", "", "-pin-file", emptyPIN); code != 2 || err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty -pin-file = %d, %v", code, err)
	}
	// A second -generate does not add a second custodian key.
	if code, _, err = run(t, New(), hsmPIN+"\n", "token-recipient", "-pkcs11-module", h.module, "-token-label", "carol-token", "-generate"); code != 1 ||
		err == nil || !strings.Contains(err.Error(), "already holds the key") {
		t.Fatalf("second -generate = %d, %v", code, err)
	}
	// Another token, whose key is not the one carol's share is sealed to:
	// first a key under another id, then one under carol's very id.
	pinFile := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(pinFile, []byte(hsmPIN+"\n"), 0o600)
	h.recipient(t, "spare")
	code, _, err = h.delegate(t, dir, "root", "carol", "", "-token-label", "spare", "-pin-file", pinFile)
	if code != 1 || err == nil || !strings.Contains(err.Error(), `custodian "carol"`) || !strings.Contains(err.Error(), "holds no EC key pair with id "+carol.KeyID) ||
		!strings.Contains(err.Error(), carol.fingerprint()) {
		t.Fatalf("token without carol's key = %d, %v", code, err)
	}
	id, _ := hex.DecodeString(carol.KeyID)
	ts, err := openToken(tokenRequest{Module: h.module, Token: "spare", PIN: hsmPIN})
	if err != nil {
		t.Fatal(err)
	}
	impostor, err := ts.generate("pkid-custodian", "P-256", id)
	ts.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, _, err = h.delegate(t, dir, "root", "carol", "", "-token-label", "spare", "-pin-file", pinFile)
	if code != 1 || err == nil || !strings.Contains(err.Error(), `custodian "carol": token "spare"`) ||
		!strings.Contains(err.Error(), "holds a different key under id "+carol.KeyID+" (fingerprint "+impostor.fingerprint()) {
		t.Fatalf("token with another key under carol's id = %d, %v", code, err)
	}
	// Hostile or confused invocations: one line, usage code 2.
	for _, args := range [][]string{
		{"delegate", "-dir", dir, "-key", "root", "-custodian", "carol", "-for", "1h", "-purpose", "p", "-pin-file", pinFile},                             // no module
		{"delegate", "-dir", dir, "-key", "root", "-custodian", "carol", "-for", "1h", "-purpose", "p", "-pkcs11-module", h.module},                       // no PIN
		{"delegate", "-dir", dir, "-key", "root", "-custodian", "carol", "-for", "1h", "-purpose", "p", "-pkcs11-module", h.module, "-identity", pinFile}, // not an age custodian
		{"delegate", "-dir", dir, "-key", "root", "-custodian", "alice", "-for", "1h", "-purpose", "p", "-pkcs11-module", h.module, "-pin-file", pinFile}, // not a token custodian
		{"token-recipient", "-pkcs11-module", h.module},                                                                                                    // no token
		{"token-recipient", "-pkcs11-module", h.module, "-token-label", "carol-token", "-key-label", ""},                                                   // no key label
		{"token-recipient", "-pkcs11-module", h.module, "-token-label", "carol-token", "-key-id", "zz"},                                                    // not hex
		{"token-recipient", "-pkcs11-module", h.module, "-token-label", "carol-token", "-generate", "-curve", "P-521", "-pin-file", pinFile},               // curve
		{"ceremony", "-dir", dir, "-key", "k2", "-m", "2", "-custodians", "a=" + cs["alice"].Recipient().String() + ",b=" + tokenRecipientPrefix + "AAAA"}, // bad recipient
	} {
		code, _, err := run(t, New(), "", args[0], args[1:]...)
		if code != 2 || err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q = %d, %v", args, code, err)
		}
	}
	// A token that is not there, and a module that is none: code 1, named.
	code, _, err = h.delegate(t, dir, "root", "carol", "", "-token-label", "nope", "-pin-file", pinFile)
	if code != 1 || err == nil || !strings.Contains(err.Error(), `custodian "carol": no token labelled "nope"`) {
		t.Fatalf("missing token = %d, %v", code, err)
	}
	code, _, err = run(t, New(), "", "delegate", "-dir", dir, "-key", "root", "-custodian", "carol", "-pkcs11-module", pinFile, "-pin-file", pinFile, "-purpose", "p")
	if code != 1 || err == nil || !strings.Contains(err.Error(), "cannot load it") {
		t.Fatalf("not a module = %d, %v", code, err)
	}

	// The real thing: carol unseals on her token (PIN from a file), alice
	// with her age identity; the key signs.
	code, out, err = h.delegate(t, dir, "root", "carol", "", "-pin-file", pinFile)
	if code != 0 || err != nil || !strings.Contains(out, "accepted it") {
		t.Fatalf("delegate carol from her token = %d, %v: %s", code, err, out)
	}
	mustBeLocked(t, s, "root", "1 of 2")
	cs.give(t, dir, "root", time.Hour, 5, "alice")
	mustSign(t, s, "root")
}

// TestRotateOntoAndOffToken: rotation moves a custodian's share onto a
// token and off it again, inside the running keystore (which never sees
// the token: sealing needs only its public key).
func TestRotateOntoAndOffToken(t *testing.T) {
	h := newSoftHSM(t)
	h.token(t, "dave-token")
	dave := h.recipient(t, "dave-token")
	cs := newCustodians(t, "alice", "bob", "carol", "dave")
	s, dir := newTestStore(t, 2, custodians{"alice": cs["alice"], "bob": cs["bob"], "carol": cs["carol"]})
	genKey(t, s, "k")
	cs.give(t, dir, "k", time.Hour, 10, "alice", "bob")
	pinFile := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(pinFile, []byte(hsmPIN), 0o600)

	rotate := func(set string) {
		t.Helper()
		code, out, err := run(t, New(), "", "rotate", "-dir", dir, "-key", "k", "-m", "2", "-custodians", set)
		if code != 0 || err != nil || !strings.Contains(out, "rotated") {
			t.Fatalf("rotate to %s = %d, %v: %s", set, code, err, out)
		}
	}
	// Onto the token: dave replaces carol.
	rotate("alice=" + cs["alice"].Recipient().String() + ",bob=" + cs["bob"].Recipient().String() + ",dave=" + dave.String())
	kf, _ := readKeyFile(dir, "k")
	if c, _ := kf.custodian("dave"); c == nil || c.Kind != kindPKCS11 || c.Token.Fingerprint != dave.fingerprint() {
		t.Fatalf("after rotation, dave is %+v", c)
	}
	mustBeLocked(t, s, "k", "0 of 2")
	if code, out, err := h.delegate(t, dir, "k", "dave", hsmPIN+"\n"); code != 0 || err != nil { // PIN on stdin
		t.Fatalf("delegate dave from his token = %d, %v: %s", code, err, out)
	}
	cs.give(t, dir, "k", time.Hour, 10, "bob")
	mustSign(t, s, "k")

	// Off the token: dave's share goes to an age identity.
	rotate("alice=" + cs["alice"].Recipient().String() + ",bob=" + cs["bob"].Recipient().String() + ",dave=" + cs["dave"].Recipient().String())
	code, _, err := h.delegate(t, dir, "k", "dave", "", "-pin-file", pinFile)
	if code != 2 || err == nil || !strings.Contains(err.Error(), `custodian "dave" does not hold their share of key "k" on a token`) {
		t.Fatalf("token delegation after moving off the token = %d, %v", code, err)
	}
	cs.give(t, dir, "k", time.Hour, 10, "dave", "alice")
	mustSign(t, s, "k")
}
