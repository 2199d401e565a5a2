package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// checkpointData is a checkpoint record's data: the key that signed and
// the signature over the checkpoint's seq, time and prev.
type checkpointData struct {
	Key string `json:"key"`
	Sig []byte `json:"sig"`
}

// KeyID names a checkpoint public key: the first 8 bytes of SHA-256 over
// the key, hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// signedMessage is what a checkpoint signature covers: its position and
// the hash of the record before it, which commits to the whole chain.
func signedMessage(r *Record) []byte {
	return []byte("pkid audit checkpoint v1\n" + strconv.FormatUint(r.Seq, 10) + "\n" +
		r.Time.UTC().Format("2006-01-02T15:04:05.999999999Z07:00") + "\n" + r.Prev)
}

// LoadOrCreateKey reads the Ed25519 checkpoint key at path (PEM PKCS#8)
// or, when there is none, creates one (0600) and writes its public half
// next to it as path.pub, which verifiers should copy somewhere the
// daemon cannot write. Errors: an unreadable file or one that does not
// hold an Ed25519 private key.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		der, _ := x509.MarshalPKCS8PrivateKey(priv)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("audit: checkpoint key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("audit: checkpoint key: %w", err)
		}
		if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: checkpoint key: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: checkpoint key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("audit: checkpoint key: %w", err)
		}
		pder, _ := x509.MarshalPKIXPublicKey(pub)
		if err := os.WriteFile(path+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644); err != nil {
			return nil, fmt.Errorf("audit: checkpoint public key: %w", err)
		}
		return priv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("audit: checkpoint key %s: no PEM PRIVATE KEY", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit: checkpoint key %s: not an Ed25519 key", path)
	}
	return priv, nil
}

// ReadPublicKey reads a checkpoint public key (PEM PUBLIC KEY) or derives
// it from a private key file (PEM PRIVATE KEY). Errors: unreadable file,
// no PEM block, not Ed25519.
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: public key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("audit: public key %s: no PEM block", path)
	}
	var k any
	switch blk.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "PRIVATE KEY":
		var p any
		if p, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
			if ep, ok := p.(ed25519.PrivateKey); ok {
				k = ep.Public()
			}
		}
	default:
		return nil, fmt.Errorf("audit: public key %s: PEM type %q, want PUBLIC KEY", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: public key %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("audit: public key %s: not an Ed25519 key", path)
	}
	return pub, nil
}
