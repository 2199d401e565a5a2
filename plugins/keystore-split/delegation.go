package keystoresplit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode"

	"filippo.io/age"
)

const (
	// maxInboxFile bounds an inbox file; a delegation is under 1 KiB.
	maxInboxFile = 64 << 10
	maxPurpose   = 200
	maxUses      = 1_000_000

	suffixDelegation = ".dlg"
	suffixRevocation = ".revoke"
	suffixRotation   = ".rotate"
)

// delegation is the plaintext of a delegation file: one custodian's share,
// handed to one run of the keystore for a time and a number of signatures.
type delegation struct {
	Version    int       `json:"v"`
	ID         string    `json:"id"`      // 32 hex digits, random
	Session    string    `json:"session"` // the keystore run it is sealed to
	Key        string    `json:"key"`
	Generation int       `json:"generation"`
	Custodian  string    `json:"custodian"`
	Purpose    string    `json:"purpose"`
	IssuedAt   time.Time `json:"issued_at"`
	NotAfter   time.Time `json:"not_after"`
	Uses       int       `json:"uses"`
	Share      []byte    `json:"share"`
}

// rotation asks the running keystore to re-split a key; it is sealed like a
// delegation because it may carry passphrases.
type rotation struct {
	Version    int             `json:"v"`
	ID         string          `json:"id"`
	Session    string          `json:"session"`
	Key        string          `json:"key"`
	Threshold  int             `json:"threshold"`
	Custodians []custodianSpec `json:"custodians"`
	WorkFactor int             `json:"work_factor,omitempty"`
}

// revocation ends delegations: one by id, or every delegation of a key
// (of one custodian if Custodian is set). It only takes power away, so it
// is not sealed.
type revocation struct {
	Version    int    `json:"v"`
	ID         string `json:"id"`
	Delegation string `json:"delegation,omitempty"`
	Key        string `json:"key,omitempty"`
	Custodian  string `json:"custodian,omitempty"`
}

var (
	errNotSealed  = errors.New("not an age-sealed file")
	errOldSession = errors.New("sealed to another ephemeral key (for an earlier run of the keystore, or another keystore): delegate again")
)

// openSealed decrypts an inbox file sealed to id. Its errors never quote
// the content.
func openSealed(data []byte, id age.Identity) ([]byte, error) {
	if len(data) > maxInboxFile {
		return nil, fmt.Errorf("larger than %d bytes", maxInboxFile)
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, errOldSession
		}
		return nil, errNotSealed
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxInboxFile+1))
	if err != nil {
		clear(plain)
		return nil, errors.New("damaged or tampered sealed file")
	}
	if len(plain) > maxInboxFile {
		clear(plain)
		return nil, fmt.Errorf("larger than %d bytes", maxInboxFile)
	}
	return plain, nil
}

// decodeStrict decodes one JSON object with no unknown fields and nothing
// after it.
func decodeStrict(plain []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("malformed content")
	}
	if dec.More() {
		return errors.New("malformed content: trailing data")
	}
	return nil
}

// parseDelegation opens and checks the form of a delegation file sealed to
// id: the fields, not whether the keystore accepts it (see store.accept).
func parseDelegation(data []byte, id age.Identity) (*delegation, error) {
	plain, err := openSealed(data, id)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	var d delegation
	if err := decodeStrict(plain, &d); err != nil {
		return nil, err
	}
	if err := d.check(); err != nil {
		clear(d.Share)
		return nil, err
	}
	return &d, nil
}

func (d *delegation) check() error {
	switch {
	case d.Version != fileVersion:
		return fmt.Errorf("unsupported delegation version %d", d.Version)
	case !validToken(d.ID):
		return errors.New("invalid delegation id")
	case !validToken(d.Session):
		return errors.New("invalid session")
	case !validID(d.Key):
		return errors.New("invalid key id")
	case d.Generation < 1:
		return errors.New("invalid key generation")
	case !validName(d.Custodian):
		return errors.New("invalid custodian name")
	case !validPurpose(d.Purpose):
		return fmt.Errorf("purpose must be 1 to %d printable characters", maxPurpose)
	case d.Uses < 1 || d.Uses > maxUses:
		return fmt.Errorf("uses must be from 1 to %d", maxUses)
	case !d.NotAfter.After(d.IssuedAt):
		return errors.New("expires before it was issued")
	case len(d.Share) != shareSize:
		return errors.New("the share has the wrong length")
	}
	return nil
}

// parseRotation opens and checks the form of a rotation request.
func parseRotation(data []byte, id age.Identity) (*rotation, error) {
	plain, err := openSealed(data, id)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	var r rotation
	if err := decodeStrict(plain, &r); err != nil {
		return nil, err
	}
	if r.Version != fileVersion || !validToken(r.ID) || !validToken(r.Session) || !validID(r.Key) {
		return nil, errors.New("malformed rotation request")
	}
	for i, c := range r.Custodians {
		val := c.Recipient
		if c.Kind == kindPassphrase {
			val = kindPassphrase
		}
		nc, err := newCustodianSpec(c.Name, val)
		if err != nil {
			return nil, err
		}
		nc.Passphrase = c.Passphrase
		if nc.Kind == kindPassphrase && nc.Passphrase == "" {
			return nil, fmt.Errorf("custodian %q: empty passphrase", c.Name)
		}
		r.Custodians[i] = nc
	}
	if err := checkSplit(r.Threshold, r.Custodians); err != nil {
		return nil, err
	}
	if r.WorkFactor != 0 && (r.WorkFactor < 10 || r.WorkFactor > 22) {
		return nil, errors.New("work factor must be from 10 to 22")
	}
	return &r, nil
}

// parseRevocation parses a revocation file.
func parseRevocation(data []byte) (*revocation, error) {
	if len(data) > maxInboxFile {
		return nil, fmt.Errorf("larger than %d bytes", maxInboxFile)
	}
	var r revocation
	if err := decodeStrict(data, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Version != fileVersion || !validToken(r.ID):
		return nil, errors.New("malformed revocation")
	case r.Delegation != "" && !validToken(r.Delegation):
		return nil, errors.New("invalid delegation id")
	case r.Delegation == "" && !validID(r.Key):
		return nil, errors.New("a revocation names a delegation or a key")
	case r.Custodian != "" && !validName(r.Custodian):
		return nil, errors.New("invalid custodian name")
	}
	return &r, nil
}

// validToken reports whether s is 32 lowercase hex digits.
func validToken(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && s == string(bytes.ToLower([]byte(s)))
}

func validPurpose(s string) bool {
	if s == "" || len(s) > maxPurpose {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// sealTo age-encrypts v's JSON to recipient.
func sealTo(recipient string, v any) ([]byte, error) {
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return nil, fmt.Errorf("the keystore's ephemeral recipient: %w", err)
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
