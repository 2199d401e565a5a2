package keystoresplit

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"filippo.io/age"
)

// A custodian's share can be sealed to an EC key on their own PKCS#11 token
// (an HSM, a smart card, a YubiKey's PIV applet, SoftHSM2 in tests).
//
// The seal is ECDH, not RSA-OAEP: CKM_ECDH1_DERIVE on P-256 or P-384 is
// what the PIV standard's key management key does (so every PIV card and
// YubiKey has it), SoftHSM2 and network HSMs implement it, and it needs no
// mechanism parameters that tokens disagree on, whereas SoftHSM2 2.6 accepts
// OAEP only with SHA-1 and PIV cards do raw RSA. Sealing needs only the
// token key's public half, so a ceremony or a rotation inside the running
// keystore seals to a token that is not there; only `delegate` touches it.
//
// The share is an age file like the others, with its own recipient stanza:
//
//	-> pkid-pkcs11-ecdh TAG EPK
//	AES-256-GCM(wrap key, zero nonce, file key)
//
// EPK is a fresh ephemeral public key (uncompressed point, base64), TAG the
// first four bytes of SHA-256 of the token key's point, and the wrap key
// HKDF-SHA256(ECDH x-coordinate, salt EPK || token point, info naming the
// scheme and curve). The nonce is zero because every wrap key is used once.

const (
	kindPKCS11           = "pkcs11"
	tokenRecipientPrefix = "pkcs11-token:"
	tokenStanzaType      = "pkid-pkcs11-ecdh"
	// maxTokenRecipient bounds the recipient string (a P-384 point and
	// PKCS#11's longest label and serial fit in well under 1 KiB).
	maxTokenRecipient = 2048
)

// tokenRecipient is a custodian's key on a PKCS#11 token: which token,
// which key, and its public half. Its string form (tokenRecipientPrefix and
// the base64url of its JSON) is what `token-recipient` prints and what
// -custodians takes.
type tokenRecipient struct {
	Token    string `json:"token"`  // CKA_LABEL of the token (CK_TOKEN_INFO label)
	Serial   string `json:"serial"` // the token's serial number
	KeyID    string `json:"key_id"` // CKA_ID of the key pair, hex
	KeyLabel string `json:"key_label,omitempty"`
	Curve    string `json:"curve"` // "P-256" or "P-384"
	Point    []byte `json:"point"` // the public key, uncompressed
}

// tokenRef is a token custodian as the signed record shows it to people:
// the token, the key and the SHA-256 fingerprint of its SubjectPublicKeyInfo
// (what `openssl pkey -pubin -outform DER | sha256sum` prints).
type tokenRef struct {
	Token       string `json:"token"`
	Serial      string `json:"serial"`
	KeyID       string `json:"key_id"`
	KeyLabel    string `json:"key_label,omitempty"`
	Curve       string `json:"curve"`
	Fingerprint string `json:"fingerprint"`
}

func tokenCurve(name string) (ecdh.Curve, error) {
	switch name {
	case "P-256":
		return ecdh.P256(), nil
	case "P-384":
		return ecdh.P384(), nil
	}
	return nil, fmt.Errorf("unsupported curve %q (want P-256 or P-384)", name)
}

// String is the recipient's -custodians form.
func (r *tokenRecipient) String() string {
	js, _ := json.Marshal(r)
	return tokenRecipientPrefix + base64.RawURLEncoding.EncodeToString(js)
}

func (r *tokenRecipient) publicKey() (*ecdh.PublicKey, error) {
	c, err := tokenCurve(r.Curve)
	if err != nil {
		return nil, err
	}
	pub, err := c.NewPublicKey(r.Point)
	if err != nil {
		return nil, errors.New("the public key is not a point on its curve")
	}
	return pub, nil
}

// fingerprint is the hex SHA-256 of the key's SubjectPublicKeyInfo.
func (r *tokenRecipient) fingerprint() string {
	pub, err := r.publicKey()
	if err != nil {
		return ""
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func (r *tokenRecipient) ref() *tokenRef {
	return &tokenRef{Token: r.Token, Serial: r.Serial, KeyID: r.KeyID, KeyLabel: r.KeyLabel,
		Curve: r.Curve, Fingerprint: r.fingerprint()}
}

// describe names the token and key for messages.
func (r *tokenRecipient) describe() string {
	return fmt.Sprintf("key id %s on token %q (serial %s), fingerprint %s", r.KeyID, r.Token, r.Serial, r.fingerprint())
}

// parseTokenRecipient parses a recipient string. Its input comes from the
// command line and from rotation requests: bounded, strict.
func parseTokenRecipient(s string) (*tokenRecipient, error) {
	enc, ok := strings.CutPrefix(s, tokenRecipientPrefix)
	if !ok {
		return nil, fmt.Errorf("not a %s recipient", tokenRecipientPrefix)
	}
	if len(s) > maxTokenRecipient {
		return nil, fmt.Errorf("a %s recipient is at most %d characters", tokenRecipientPrefix, maxTokenRecipient)
	}
	js, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("malformed %s recipient (base64url)", tokenRecipientPrefix)
	}
	var r tokenRecipient
	if err := decodeStrict(js, &r); err != nil {
		return nil, fmt.Errorf("malformed %s recipient (JSON)", tokenRecipientPrefix)
	}
	switch {
	case !validTokenText(r.Token, 32) || r.Token == "":
		return nil, errors.New("token recipient: the token label must be 1 to 32 printable characters")
	case !validTokenText(r.Serial, 16):
		return nil, errors.New("token recipient: the serial must be at most 16 printable characters")
	case !validTokenText(r.KeyLabel, 128):
		return nil, errors.New("token recipient: the key label must be at most 128 printable characters")
	}
	if id, err := hex.DecodeString(r.KeyID); err != nil || len(id) == 0 || len(id) > 64 || r.KeyID != strings.ToLower(r.KeyID) {
		return nil, errors.New("token recipient: the key id must be 1 to 64 bytes in lowercase hex")
	}
	if _, err := r.publicKey(); err != nil {
		return nil, fmt.Errorf("token recipient: %w", err)
	}
	return &r, nil
}

func validTokenText(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

// tag identifies the token key a stanza is sealed to.
func (r *tokenRecipient) tag() string {
	sum := sha256.Sum256(r.Point)
	return base64.RawStdEncoding.EncodeToString(sum[:4])
}

func tokenWrapKey(curve string, shared, epk, point []byte) ([]byte, error) {
	salt := append(append([]byte{}, epk...), point...)
	return hkdf.Key(sha256.New, shared, salt, "pkid keystore-split pkcs11 ECDH v1 "+curve, 32)
}

func gcmZeroNonce(key []byte) (cipher.AEAD, []byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	return gcm, make([]byte, gcm.NonceSize()), nil
}

// Wrap implements age.Recipient: seals fileKey to the token key.
func (r *tokenRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	pub, err := r.publicKey()
	if err != nil {
		return nil, err
	}
	eph, err := pub.Curve().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	shared, err := eph.ECDH(pub)
	if err != nil {
		return nil, err
	}
	defer clear(shared)
	epk := eph.PublicKey().Bytes()
	key, err := tokenWrapKey(r.Curve, shared, epk, r.Point)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	gcm, nonce, err := gcmZeroNonce(key)
	if err != nil {
		return nil, err
	}
	return []*age.Stanza{{Type: tokenStanzaType, Args: []string{r.tag(), base64.RawStdEncoding.EncodeToString(epk)},
		Body: gcm.Seal(nil, nonce, fileKey, nil)}}, nil
}

// tokenKey is the private half of a token recipient: on a token, or in
// software in tests.
type tokenKey interface {
	// ECDH returns the x-coordinate of the shared point of the private
	// key and peer (an uncompressed point on the key's curve). Errors: the
	// token's, wrapped.
	ECDH(peer []byte) ([]byte, error)
}

// tokenIdentity is an age.Identity that unwraps with a token key.
type tokenIdentity struct {
	rec *tokenRecipient
	key tokenKey
}

// errTokenFailed marks a failure of the token (not of the file) in Unwrap.
type errTokenFailed struct{ err error }

func (e *errTokenFailed) Error() string { return e.err.Error() }
func (e *errTokenFailed) Unwrap() error { return e.err }

// Unwrap implements age.Identity.
func (id *tokenIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	pub, err := id.rec.publicKey()
	if err != nil {
		return nil, err
	}
	for _, s := range stanzas {
		if s.Type != tokenStanzaType {
			continue
		}
		if len(s.Args) != 2 {
			return nil, errors.New("malformed " + tokenStanzaType + " stanza")
		}
		if s.Args[0] != id.rec.tag() {
			continue
		}
		epk, err := base64.RawStdEncoding.Strict().DecodeString(s.Args[1])
		if err != nil {
			return nil, errors.New("malformed " + tokenStanzaType + " stanza")
		}
		if _, err := pub.Curve().NewPublicKey(epk); err != nil {
			return nil, errors.New("malformed " + tokenStanzaType + " stanza: the ephemeral key is not on the curve")
		}
		shared, err := id.key.ECDH(epk)
		if err != nil {
			return nil, &errTokenFailed{err}
		}
		key, err := tokenWrapKey(id.rec.Curve, shared, epk, id.rec.Point)
		clear(shared)
		if err != nil {
			return nil, err
		}
		gcm, nonce, err := gcmZeroNonce(key)
		clear(key)
		if err != nil {
			return nil, err
		}
		fileKey, err := gcm.Open(nil, nonce, s.Body, nil)
		if err != nil {
			return nil, errors.New("the " + tokenStanzaType + " stanza does not open with the token key")
		}
		return fileKey, nil
	}
	return nil, age.ErrIncorrectIdentity
}

// softTokenKey is a tokenKey in software (tests, fuzzing).
type softTokenKey struct{ priv *ecdh.PrivateKey }

func (k softTokenKey) ECDH(peer []byte) ([]byte, error) {
	pub, err := k.priv.Curve().NewPublicKey(peer)
	if err != nil {
		return nil, err
	}
	return k.priv.ECDH(pub)
}

// tokenPIN picks a token's PIN: -pin-file, -pin, $PKID_SPLIT_PIN, or a line
// of stdin (when readStdin), in that order. Errors wrap
// sdk.ErrInvalidArgument when there is none.
func tokenPIN(pinFile, pin string, env func(string) string, stdin func() (string, error)) (string, error) {
	switch {
	case pinFile != "":
		data, err := readLimited(pinFile, 4096)
		if err != nil {
			return "", fmt.Errorf("-pin-file: %w", err)
		}
		p := strings.TrimRight(string(data), "\r\n")
		if p == "" {
			return "", usagef("-pin-file %s is empty", pinFile)
		}
		return p, nil
	case pin != "":
		return pin, nil
	case env(pinEnv) != "":
		return env(pinEnv), nil
	}
	if stdin != nil {
		if p, err := stdin(); err == nil && p != "" {
			return p, nil
		}
	}
	return "", usagef("give the token's PIN: -pin-file FILE, $%s, or a line on stdin", pinEnv)
}

// pinEnv names the environment variable a token PIN may come from. pkid
// passes it to its builtin plugins' processes (core/pluginhost).
const pinEnv = "PKID_SPLIT_PIN"

// isTokenRecipient reports whether s looks like a token recipient.
func isTokenRecipient(s string) bool { return strings.HasPrefix(s, tokenRecipientPrefix) }

// equalPoint compares two points.
func equalPoint(a, b []byte) bool { return bytes.Equal(a, b) }

// tokenRequest names a token and how to use it.
type tokenRequest struct {
	Module   string // the PKCS#11 library
	Token    string // the token's label
	PIN      string // the user PIN; empty: no login
	KeyLabel string // token-recipient: the key's CKA_LABEL
	KeyID    []byte // token-recipient: the key's CKA_ID, instead of the label
	Generate bool   // token-recipient: make the key pair
	Curve    string // with Generate
}

var (
	errWrongPIN   = errors.New("the PIN was refused (CKR_PIN_INCORRECT)")
	errNoTokenKey = errors.New("no such key")
)
