package keystoresplit

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/hashicorp/vault/shamir"
)

const (
	fileVersion = 1
	keySuffix   = ".split.json"
	dataKeySize = 32
	shareSize   = dataKeySize + 1 // shamir appends the x coordinate
	maxShares   = 255             // shamir's limit
	// maxFileSize bounds what is read from the state directory.
	maxFileSize = 1 << 20

	kindAge        = "age"
	kindPassphrase = "passphrase"
)

// custodianEntry is one custodian in a key's record: public facts only.
type custodianEntry struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // kindAge, kindPassphrase or kindPKCS11
	// Recipient is the age recipient (kindAge) or the token recipient
	// (kindPKCS11); empty for a passphrase.
	Recipient string `json:"recipient,omitempty"`
	// Token spells out a kindPKCS11 custodian's token, key and key
	// fingerprint for the people who read the record.
	Token *tokenRef `json:"token,omitempty"`
	// Commitment binds the share to the key, generation and custodian
	// (shareCommitment): a share that does not match it is wrong or
	// tampered, and the custodian is named.
	Commitment []byte `json:"commitment"`
}

// record is what a key signs about itself: who holds which share.
type record struct {
	Version    int               `json:"version"`
	Key        string            `json:"key"`
	Algorithm  string            `json:"algorithm"`
	PublicKey  []byte            `json:"public_key"` // PKIX DER
	CreatedAt  time.Time         `json:"created_at"`
	Generation int               `json:"generation"` // 1, +1 per rotation
	Threshold  int               `json:"threshold"`
	Custodians []custodianEntry  `json:"custodians"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// DataKeyCommitment tells a wrong combination of shares from a
	// tampered ciphertext.
	DataKeyCommitment []byte `json:"data_key_commitment"`
}

// keyFile is keys/<id>.split.json.
type keyFile struct {
	Record    record `json:"record"`
	Signature []byte `json:"signature"` // by the key over recordDigest
	// Nonce and Ciphertext: AES-256-GCM of the PKCS#8 key under the data
	// key, with the record digest as additional data.
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
	// Shares maps a custodian name to their age-encrypted sharePlain.
	Shares map[string][]byte `json:"shares"`
}

// sharePlain is what a custodian's sealed share decrypts to.
type sharePlain struct {
	Version    int    `json:"v"`
	Key        string `json:"key"`
	Generation int    `json:"generation"`
	Custodian  string `json:"custodian"`
	Share      []byte `json:"share"`
}

// custodianSpec names a custodian when a key is split.
type custodianSpec struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Recipient  string `json:"recipient,omitempty"`
	Passphrase string `json:"passphrase,omitempty"`
}

// recordDigest is the SHA-256 the key signs.
func recordDigest(r *record) ([]byte, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	io.WriteString(h, "pkid keystore-split record v1\n")
	h.Write(js)
	return h.Sum(nil), nil
}

func shareCommitment(key string, generation int, custodian string, share []byte) []byte {
	h := sha256.New()
	io.WriteString(h, "pkid keystore-split share v1\n")
	io.WriteString(h, key)
	h.Write([]byte{0})
	binary.Write(h, binary.BigEndian, uint64(generation))
	io.WriteString(h, custodian)
	h.Write([]byte{0})
	h.Write(share)
	return h.Sum(nil)
}

func dataKeyCommitment(key string, generation int, dataKey []byte) []byte {
	h := sha256.New()
	io.WriteString(h, "pkid keystore-split data key v1\n")
	io.WriteString(h, key)
	h.Write([]byte{0})
	binary.Write(h, binary.BigEndian, uint64(generation))
	h.Write(dataKey)
	return h.Sum(nil)
}

// parseCustodians parses "alice=age1...,bob=passphrase,carol=pkcs11-token:..." (the ceremony's
// -custodians flag and the rotate command's).
func parseCustodians(s string) ([]custodianSpec, error) {
	var out []custodianSpec
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("custodian %q: want NAME=age1... or NAME=passphrase", part)
		}
		c, err := newCustodianSpec(name, val)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func newCustodianSpec(name, val string) (custodianSpec, error) {
	if !validName(name) {
		return custodianSpec{}, fmt.Errorf("invalid custodian name %q (want %s)", name, namePattern)
	}
	if val == kindPassphrase {
		return custodianSpec{Name: name, Kind: kindPassphrase}, nil
	}
	if isTokenRecipient(val) {
		if _, err := parseTokenRecipient(val); err != nil {
			return custodianSpec{}, fmt.Errorf("custodian %q: %w", name, err)
		}
		return custodianSpec{Name: name, Kind: kindPKCS11, Recipient: val}, nil
	}
	if _, err := age.ParseX25519Recipient(val); err != nil {
		return custodianSpec{}, fmt.Errorf("custodian %q: %.40q is neither an age X25519 recipient (age1...), a %s recipient (`pkid keystore split token-recipient`) nor \"passphrase\"", name, val, tokenRecipientPrefix)
	}
	return custodianSpec{Name: name, Kind: kindAge, Recipient: val}, nil
}

// checkSplit validates a threshold and custodian set.
func checkSplit(threshold int, cs []custodianSpec) error {
	if len(cs) < 2 || len(cs) > maxShares {
		return fmt.Errorf("need 2 to %d custodians, have %d", maxShares, len(cs))
	}
	if threshold < 2 || threshold > len(cs) {
		return fmt.Errorf("threshold must be from 2 to the number of custodians (%d), not %d", len(cs), threshold)
	}
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[c.Name] {
			return fmt.Errorf("custodian %q is named twice", c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

// splitRequest is everything needed to split one key.
type splitRequest struct {
	ID         string
	Algorithm  string
	Signer     crypto.Signer
	CreatedAt  time.Time
	Generation int
	Threshold  int
	Custodians []custodianSpec
	Attributes map[string]string
	// WorkFactor is the scrypt work factor for passphrase custodians.
	WorkFactor int
}

// splitKey encrypts req.Signer under a new data key, splits the data key
// among the custodians and signs the record with the key itself. Shares
// and the data key are cleared before it returns (best effort).
func splitKey(req splitRequest) (*keyFile, error) {
	if err := checkSplit(req.Threshold, req.Custodians); err != nil {
		return nil, err
	}
	pub, err := marshalPublic(req.Signer.Public())
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(req.Signer)
	if err != nil {
		return nil, fmt.Errorf("encoding key: %w", err)
	}
	defer clear(pkcs8)
	dataKey := make([]byte, dataKeySize)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, err
	}
	defer clear(dataKey)
	shares, err := shamir.Split(dataKey, len(req.Custodians), req.Threshold)
	if err != nil {
		return nil, fmt.Errorf("splitting the data key: %w", err)
	}
	defer func() {
		for _, s := range shares {
			clear(s)
		}
	}()
	rec := record{Version: fileVersion, Key: req.ID, Algorithm: req.Algorithm, PublicKey: pub,
		CreatedAt: req.CreatedAt.UTC().Truncate(time.Second), Generation: req.Generation,
		Threshold: req.Threshold, Attributes: req.Attributes,
		DataKeyCommitment: dataKeyCommitment(req.ID, req.Generation, dataKey)}
	for i, c := range req.Custodians {
		e := custodianEntry{Name: c.Name, Kind: c.Kind, Recipient: c.Recipient,
			Commitment: shareCommitment(req.ID, req.Generation, c.Name, shares[i])}
		if c.Kind == kindPKCS11 {
			tr, err := parseTokenRecipient(c.Recipient)
			if err != nil {
				return nil, fmt.Errorf("custodian %q: %w", c.Name, err)
			}
			e.Token = tr.ref()
		}
		rec.Custodians = append(rec.Custodians, e)
	}
	digest, err := recordDigest(&rec)
	if err != nil {
		return nil, err
	}
	sig, err := signDigest(req.Signer, digest)
	if err != nil {
		return nil, fmt.Errorf("signing the record: %w", err)
	}
	kf := &keyFile{Record: rec, Signature: sig, Shares: map[string][]byte{}}
	if kf.Nonce, kf.Ciphertext, err = seal(dataKey, pkcs8, digest); err != nil {
		return nil, err
	}
	for i, c := range req.Custodians {
		sealed, err := sealShare(c, req.WorkFactor, &sharePlain{Version: fileVersion, Key: req.ID,
			Generation: req.Generation, Custodian: c.Name, Share: shares[i]})
		if err != nil {
			return nil, fmt.Errorf("sealing the share of custodian %q: %w", c.Name, err)
		}
		kf.Shares[c.Name] = sealed
	}
	return kf, nil
}

func seal(key, plain, aad []byte) (nonce, ct []byte, err error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	nonce = make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	return nonce, gcm.Seal(nil, nonce, plain, aad), nil
}

func sealShare(c custodianSpec, workFactor int, p *sharePlain) ([]byte, error) {
	var r age.Recipient
	switch c.Kind {
	case kindAge:
		x, err := age.ParseX25519Recipient(c.Recipient)
		if err != nil {
			return nil, err
		}
		r = x
	case kindPassphrase:
		if c.Passphrase == "" {
			return nil, errors.New("empty passphrase")
		}
		s, err := age.NewScryptRecipient(c.Passphrase)
		if err != nil {
			return nil, err
		}
		if workFactor > 0 {
			s.SetWorkFactor(workFactor)
		}
		r = s
	case kindPKCS11:
		t, err := parseTokenRecipient(c.Recipient)
		if err != nil {
			return nil, err
		}
		r = t
	default:
		return nil, fmt.Errorf("unknown custodian kind %q", c.Kind)
	}
	plain, err := json.Marshal(p)
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

// parseKeyFile decodes and verifies a key file: the record's signature
// against its own public key, the split's shape, and that id matches.
func parseKeyFile(data []byte, id string) (*keyFile, crypto.PublicKey, error) {
	var kf keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kf); err != nil {
		return nil, nil, errors.New("malformed key file")
	}
	r := &kf.Record
	if r.Version != fileVersion {
		return nil, nil, fmt.Errorf("unsupported key file version %d", r.Version)
	}
	if r.Key != id {
		return nil, nil, fmt.Errorf("file holds key %q, not %q", r.Key, id)
	}
	pub, err := x509.ParsePKIXPublicKey(r.PublicKey)
	if err != nil {
		return nil, nil, errors.New("malformed public key")
	}
	digest, err := recordDigest(r)
	if err != nil {
		return nil, nil, err
	}
	if err := verifyDigest(pub, digest, kf.Signature); err != nil {
		return nil, nil, fmt.Errorf("the record's signature: %w (tampered key file?)", err)
	}
	specs := make([]custodianSpec, len(r.Custodians))
	for i, c := range r.Custodians {
		specs[i] = custodianSpec{Name: c.Name}
		if _, ok := kf.Shares[c.Name]; !ok {
			return nil, nil, fmt.Errorf("no sealed share for custodian %q", c.Name)
		}
	}
	if err := checkSplit(r.Threshold, specs); err != nil {
		return nil, nil, err
	}
	return &kf, pub, nil
}

// custodian returns the record's entry for name.
func (kf *keyFile) custodian(name string) (*custodianEntry, bool) {
	i := slices.IndexFunc(kf.Record.Custodians, func(c custodianEntry) bool { return c.Name == name })
	if i < 0 {
		return nil, false
	}
	return &kf.Record.Custodians[i], true
}

// checkShare reports whether share is custodian's share of this key
// generation, naming the custodian when it is not.
func (kf *keyFile) checkShare(custodian string, share []byte) error {
	c, ok := kf.custodian(custodian)
	if !ok {
		return fmt.Errorf("%q is not a custodian of key %q", custodian, kf.Record.Key)
	}
	want := c.Commitment
	got := shareCommitment(kf.Record.Key, kf.Record.Generation, custodian, share)
	if len(share) != shareSize || subtle.ConstantTimeCompare(want, got) != 1 {
		return fmt.Errorf("the share of custodian %q does not match key %q's signed record (a wrong or tampered share)", custodian, kf.Record.Key)
	}
	return nil
}

// openShare decrypts custodian's sealed share with ids and checks it.
func (kf *keyFile) openShare(custodian string, ids ...age.Identity) ([]byte, error) {
	sealed, ok := kf.Shares[custodian]
	if !ok {
		return nil, fmt.Errorf("%q is not a custodian of key %q", custodian, kf.Record.Key)
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("custodian %q: the identity, passphrase or token does not open their share of key %q", custodian, kf.Record.Key)
		}
		var tf *errTokenFailed
		if errors.As(err, &tf) {
			return nil, fmt.Errorf("custodian %q: their token failed to open the share of key %q: %w", custodian, kf.Record.Key, tf.err)
		}
		return nil, fmt.Errorf("custodian %q: their sealed share of key %q is damaged or tampered: %v", custodian, kf.Record.Key, err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return nil, fmt.Errorf("custodian %q: their sealed share of key %q is damaged or tampered: %v", custodian, kf.Record.Key, err)
	}
	defer clear(plain)
	var p sharePlain
	if err := json.Unmarshal(plain, &p); err != nil || p.Key != kf.Record.Key || p.Custodian != custodian || p.Generation != kf.Record.Generation {
		return nil, fmt.Errorf("custodian %q: their sealed share is not for key %q generation %d (a wrong or swapped share)", custodian, kf.Record.Key, kf.Record.Generation)
	}
	if err := kf.checkShare(custodian, p.Share); err != nil {
		return nil, err
	}
	return p.Share, nil
}

// unlock rebuilds the key from shares (custodian → share, each already
// checked against the record). Buffers holding the data key and the
// PKCS#8 are cleared before it returns.
func (kf *keyFile) unlock(shares map[string][]byte) (crypto.Signer, error) {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range shares {
			if !yield(n) {
				return
			}
		}
	})
	if len(names) < kf.Record.Threshold {
		return nil, fmt.Errorf("%d shares, %d needed", len(names), kf.Record.Threshold)
	}
	parts := make([][]byte, 0, kf.Record.Threshold)
	for _, n := range names[:kf.Record.Threshold] {
		parts = append(parts, shares[n])
	}
	dataKey, err := shamir.Combine(parts)
	if err != nil {
		return nil, fmt.Errorf("combining shares: %w", err)
	}
	defer clear(dataKey)
	if subtle.ConstantTimeCompare(dataKeyCommitment(kf.Record.Key, kf.Record.Generation, dataKey), kf.Record.DataKeyCommitment) != 1 {
		return nil, errors.New("the shares do not combine to the key's data key")
	}
	digest, err := recordDigest(&kf.Record)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(dataKey)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	pkcs8, err := gcm.Open(nil, kf.Nonce, kf.Ciphertext, digest)
	if err != nil {
		return nil, errors.New("the encrypted key does not decrypt (tampered key file)")
	}
	defer clear(pkcs8)
	priv, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return nil, errors.New("malformed PKCS#8 key")
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", priv)
	}
	pub, err := x509.ParsePKIXPublicKey(kf.Record.PublicKey)
	if err != nil || !publicKeyEqual(signer.Public(), pub) {
		wipe(signer)
		return nil, errors.New("the decrypted key does not match the record's public key")
	}
	return signer, nil
}
