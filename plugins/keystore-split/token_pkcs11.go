//go:build cgo && !nopkcs11

package keystoresplit

import (
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/miekg/pkcs11"
)

// tokenMu serialises token use in a process: C_Initialize and C_Finalize
// are process-wide, and a command uses one token at a time anyway.
var tokenMu sync.Mutex

var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
)

// tokenSession is a logged-in session on one token.
type tokenSession struct {
	ctx      *pkcs11.Ctx
	own      bool // we initialised the module, so we finalise it
	sh       pkcs11.SessionHandle
	open     bool
	loggedIn bool
	label    string
	serial   string
}

// openToken loads module, finds the token labelled req.Token and logs in
// with req.PIN (when set). Errors name the module or token; a refused PIN
// is errWrongPIN. The caller must Close the session; tokenMu is held until
// then.
func openToken(req tokenRequest) (_ *tokenSession, err error) {
	if _, err := os.Stat(req.Module); err != nil {
		return nil, fmt.Errorf("PKCS#11 module %s: %w", req.Module, err)
	}
	tokenMu.Lock()
	ctx := pkcs11.New(req.Module)
	if ctx == nil {
		tokenMu.Unlock()
		return nil, fmt.Errorf("PKCS#11 module %s: cannot load it (not a PKCS#11 library, or a dependency is missing)", req.Module)
	}
	t := &tokenSession{ctx: ctx, own: true}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	if err := ctx.Initialize(); err != nil {
		if !isP11Code(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			return t, fmt.Errorf("PKCS#11 module %s: C_Initialize: %w", req.Module, err)
		}
		t.own = false
	}
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return t, fmt.Errorf("PKCS#11 module %s: listing slots: %w", req.Module, err)
	}
	var names []string
	slot, found := uint(0), false
	for _, s := range slots {
		ti, err := ctx.GetTokenInfo(s)
		if err != nil || ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		label := strings.TrimRight(ti.Label, " \x00")
		if label == req.Token {
			slot, found = s, true
			t.label, t.serial = label, strings.TrimRight(ti.SerialNumber, " \x00")
			break
		}
		names = append(names, fmt.Sprintf("%q", label))
	}
	if !found {
		avail := "none"
		if len(names) > 0 {
			avail = strings.Join(names, ", ")
		}
		return t, fmt.Errorf("no token labelled %q in PKCS#11 module %s (tokens present: %s)", req.Token, req.Module, avail)
	}
	if t.sh, err = ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION); err != nil {
		return t, fmt.Errorf("token %q: opening a session: %w", req.Token, err)
	}
	t.open = true
	if req.PIN != "" {
		if err := ctx.Login(t.sh, pkcs11.CKU_USER, req.PIN); err != nil && !isP11Code(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
			switch {
			case isP11Code(err, pkcs11.CKR_PIN_INCORRECT):
				return t, fmt.Errorf("token %q: %w", req.Token, errWrongPIN)
			case isP11Code(err, pkcs11.CKR_PIN_LOCKED):
				return t, fmt.Errorf("token %q: the user PIN is locked (too many wrong PINs): %w", req.Token, err)
			}
			return t, fmt.Errorf("token %q: logging in: %w", req.Token, err)
		}
		t.loggedIn = true
	}
	return t, nil
}

// Close logs out, closes the session and finalises the module. Closing
// twice is harmless.
func (t *tokenSession) Close() {
	if t.ctx == nil {
		return
	}
	if t.open {
		_ = t.ctx.Logout(t.sh)
		_ = t.ctx.CloseSession(t.sh)
	}
	if t.own {
		_ = t.ctx.Finalize()
	}
	t.ctx.Destroy()
	t.ctx = nil
	tokenMu.Unlock()
}

func isP11Code(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// findKey finds the EC key pair with CKA_ID id (or, with no id, whose
// public half has CKA_LABEL label: tokens such as ykcs11 label the halves
// differently) and returns its recipient and private key handle, the
// private half being the one with the public half's CKA_ID. Logged out, it
// finds only the public key (the private half is a private object) and
// returns handle 0. Errors wrap errNoTokenKey when there is none.
func (t *tokenSession) findKey(id []byte, label string) (*tokenRecipient, pkcs11.ObjectHandle, error) {
	match := func(class uint, id []byte) []*pkcs11.Attribute {
		a := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, class), pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC)}
		if len(id) > 0 {
			return append(a, pkcs11.NewAttribute(pkcs11.CKA_ID, id))
		}
		return append(a, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
	}
	what := "label " + label
	if len(id) > 0 {
		what = "id " + hex.EncodeToString(id)
	}
	pubs, err := t.find(match(pkcs11.CKO_PUBLIC_KEY, id))
	if err != nil {
		return nil, 0, err
	}
	switch {
	case len(pubs) == 0:
		return nil, 0, fmt.Errorf("token %q (serial %s) holds no EC key pair with %s: %w", t.label, t.serial, what, errNoTokenKey)
	case len(pubs) > 1:
		return nil, 0, fmt.Errorf("token %q holds several EC keys with %s: name one with -key-id", t.label, what)
	}
	attrs, err := t.ctx.GetAttributeValue(t.sh, pubs[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil), pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil), pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil)})
	if err != nil {
		return nil, 0, fmt.Errorf("token %q: reading the public key: %w", t.label, err)
	}
	if len(attrs[2].Value) == 0 {
		return nil, 0, fmt.Errorf("token %q: the key with %s has no CKA_ID, which pkid needs to find it again", t.label, what)
	}
	rec := &tokenRecipient{Token: t.label, Serial: t.serial, KeyID: hex.EncodeToString(attrs[2].Value), KeyLabel: string(attrs[3].Value)}
	priv := pkcs11.ObjectHandle(0)
	if t.loggedIn {
		privs, err := t.find(match(pkcs11.CKO_PRIVATE_KEY, attrs[2].Value))
		if err != nil {
			return nil, 0, err
		}
		switch {
		case len(privs) == 0:
			return nil, 0, fmt.Errorf("token %q (serial %s) holds the public key with %s but no private key with its id %s: %w", t.label, t.serial, what, rec.KeyID, errNoTokenKey)
		case len(privs) > 1:
			return nil, 0, fmt.Errorf("token %q holds several private EC keys with id %s", t.label, rec.KeyID)
		}
		priv = privs[0]
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(attrs[0].Value, &oid); err != nil {
		return nil, 0, fmt.Errorf("token %q: the key's CKA_EC_PARAMS is not a named curve", t.label)
	}
	switch {
	case oid.Equal(oidP256):
		rec.Curve = "P-256"
	case oid.Equal(oidP384):
		rec.Curve = "P-384"
	default:
		return nil, 0, fmt.Errorf("token %q: the key is on curve %v; use P-256 or P-384", t.label, oid)
	}
	// CKA_EC_POINT is a DER OCTET STRING holding the point; some tokens
	// give the bare point.
	rec.Point = attrs[1].Value
	var inner []byte
	if rest, err := asn1.Unmarshal(attrs[1].Value, &inner); err == nil && len(rest) == 0 {
		rec.Point = inner
	}
	if _, err := rec.publicKey(); err != nil {
		return nil, 0, fmt.Errorf("token %q: %w", t.label, err)
	}
	return rec, priv, nil
}

func (t *tokenSession) find(tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := t.ctx.FindObjectsInit(t.sh, tmpl); err != nil {
		return nil, fmt.Errorf("token %q: searching: %w", t.label, err)
	}
	defer t.ctx.FindObjectsFinal(t.sh)
	objs, _, err := t.ctx.FindObjects(t.sh, 4)
	if err != nil {
		return nil, fmt.Errorf("token %q: searching: %w", t.label, err)
	}
	return objs, nil
}

// generate makes a key pair for ECDH on the token: token objects, the
// private half sensitive, not extractable, able to derive and nothing else.
// A nil id is a random one.
func (t *tokenSession) generate(label, curve string, id []byte) (*tokenRecipient, error) {
	var oid asn1.ObjectIdentifier
	switch curve {
	case "P-256":
		oid = oidP256
	case "P-384":
		oid = oidP384
	default:
		return nil, usagef("-curve must be P-256 or P-384")
	}
	params, _ := asn1.Marshal(oid)
	if len(id) == 0 {
		id = make([]byte, 8)
		if _, err := rand.Read(id); err != nil {
			return nil, err
		}
	}
	pub := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params), pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false), pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id)}
	priv := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true), pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label), pkcs11.NewAttribute(pkcs11.CKA_ID, id)}
	if _, _, err := t.ctx.GenerateKeyPair(t.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}, pub, priv); err != nil {
		return nil, fmt.Errorf("token %q: generating a %s key pair: %w", t.label, curve, err)
	}
	rec, _, err := t.findKey(id, "")
	return rec, err
}

// p11Key is a token's private key as a tokenKey.
type p11Key struct {
	t     *tokenSession
	h     pkcs11.ObjectHandle
	bytes int // the field size: the shared secret's length
}

// ECDH derives the shared secret on the token (CKM_ECDH1_DERIVE, no KDF)
// as a session object that may be read, reads it and destroys it.
func (k p11Key) ECDH(peer []byte) ([]byte, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY), pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, k.bytes)}
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDH1_DERIVE, pkcs11.NewECDH1DeriveParams(pkcs11.CKD_NULL, nil, peer))}
	h, err := k.t.ctx.DeriveKey(k.t.sh, mech, k.h, tmpl)
	if err != nil {
		return nil, fmt.Errorf("token %q: ECDH (CKM_ECDH1_DERIVE): %w", k.t.label, err)
	}
	defer k.t.ctx.DestroyObject(k.t.sh, h)
	attrs, err := k.t.ctx.GetAttributeValue(k.t.sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil {
		return nil, fmt.Errorf("token %q: reading the ECDH result: %w", k.t.label, err)
	}
	v := attrs[0].Value
	if len(v) != k.bytes {
		return nil, fmt.Errorf("token %q: ECDH gave %d bytes, want %d", k.t.label, len(v), k.bytes)
	}
	return v, nil
}

// tokenRecipientFor reads (or with req.Generate, makes) the custodian key
// req.KeyLabel on the token and returns its recipient.
func tokenRecipientFor(req tokenRequest) (*tokenRecipient, error) {
	t, err := openToken(req)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if req.Generate {
		if _, _, err := t.findKey(req.KeyID, req.KeyLabel); err == nil {
			return nil, fmt.Errorf("token %q already holds the key (label %q, id %x): leave out -generate to use it", t.label, req.KeyLabel, req.KeyID)
		}
		return t.generate(req.KeyLabel, req.Curve, req.KeyID)
	}
	rec, _, err := t.findKey(req.KeyID, req.KeyLabel)
	if errors.Is(err, errNoTokenKey) {
		err = fmt.Errorf("%w (make one with -generate)", err)
	}
	return rec, err
}

// openTokenIdentity opens custodian's token and returns an identity that
// unseals with the key the record names, and a function that closes the
// token. A token whose key is not that key is an error naming the
// custodian.
func openTokenIdentity(req tokenRequest, want *tokenRecipient, custodian string) (age.Identity, func(), error) {
	t, err := openToken(req)
	if err != nil {
		return nil, nil, fmt.Errorf("custodian %q: %w", custodian, err)
	}
	id, _ := hex.DecodeString(want.KeyID)
	got, h, err := t.findKey(id, "")
	if err != nil {
		t.Close()
		return nil, nil, fmt.Errorf("custodian %q: %w; their share is sealed to %s", custodian, err, want.describe())
	}
	if got.Curve != want.Curve || !equalPoint(got.Point, want.Point) {
		t.Close()
		return nil, nil, fmt.Errorf("custodian %q: token %q (serial %s) holds a different key under id %s (fingerprint %s); their share is sealed to %s",
			custodian, t.label, t.serial, got.KeyID, got.fingerprint(), want.describe())
	}
	size := 32
	if want.Curve == "P-384" {
		size = 48
	}
	return &tokenIdentity{rec: want, key: p11Key{t: t, h: h, bytes: size}}, t.Close, nil
}
