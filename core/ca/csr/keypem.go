package csr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// PEM labels of private keys.
const (
	LabelRSAKey     = "RSA PRIVATE KEY"     // PKCS#1
	LabelECKey      = "EC PRIVATE KEY"      // SEC1
	LabelPKCS8Key   = "PRIVATE KEY"         // PKCS#8, pkid's Ed25519 label (see EncodePrivateKey)
	LabelEd25519Key = "Ed25519 PRIVATE KEY" // CFSSL's Ed25519 label, PKCS#8 inside; read only
)

// ErrEncryptedKey is returned by ParsePrivateKey for encrypted PEM keys
// (legacy Proc-Type encryption or "ENCRYPTED PRIVATE KEY").
var ErrEncryptedKey = errors.New("csr: private key is encrypted: give an unencrypted key")

// EncodePrivateKey writes k as one PEM block, as CFSSL does: RSA as
// "RSA PRIVATE KEY" (PKCS#1), ECDSA as "EC PRIVATE KEY" (SEC1, no
// "EC PARAMETERS" block), Ed25519 as "PRIVATE KEY" (PKCS#8; CFSSL labels it
// "Ed25519 PRIVATE KEY": docs/differences-from-cfssl.md, "Ed25519 keys are
// PKCS#8"). Other key types (e.g. HSM handles) give an
// error naming the type.
func EncodePrivateKey(k crypto.Signer) ([]byte, error) {
	var (
		block pem.Block
		err   error
	)
	switch key := k.(type) {
	case *rsa.PrivateKey:
		block = pem.Block{Type: LabelRSAKey, Bytes: x509.MarshalPKCS1PrivateKey(key)}
	case *ecdsa.PrivateKey:
		block.Type = LabelECKey
		block.Bytes, err = x509.MarshalECPrivateKey(key)
	case ed25519.PrivateKey:
		block.Type = LabelPKCS8Key
		block.Bytes, err = x509.MarshalPKCS8PrivateKey(key)
	case *ed25519.PrivateKey:
		block.Type = LabelPKCS8Key
		block.Bytes, err = x509.MarshalPKCS8PrivateKey(*key)
	default:
		return nil, fmt.Errorf("csr: cannot encode private key of type %T", k)
	}
	if err != nil {
		return nil, fmt.Errorf("csr: encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&block), nil
}

// ParsePrivateKey reads the first private key PEM block of data, skipping
// "EC PARAMETERS" blocks. It accepts "RSA PRIVATE KEY", "EC PRIVATE KEY",
// "PRIVATE KEY" and CFSSL's "Ed25519 PRIVATE KEY"; like CFSSL it tries
// PKCS#8, PKCS#1 and SEC1 whatever the label says. Errors: no PEM key block,
// ErrEncryptedKey, an undecodable key, or a key that cannot sign (e.g.
// X25519).
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("csr: no PEM private key block found")
		}
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "ENCRYPTED PRIVATE KEY":
			return nil, ErrEncryptedKey
		case LabelRSAKey, LabelECKey, LabelPKCS8Key, LabelEd25519Key:
		default:
			return nil, fmt.Errorf("csr: PEM block %q is not a private key", block.Type)
		}
		if block.Headers["Proc-Type"] != "" || block.Headers["DEK-Info"] != "" {
			return nil, ErrEncryptedKey
		}
		return parseKeyDER(block.Type, block.Bytes)
	}
}

func parseKeyDER(label string, der []byte) (crypto.Signer, error) {
	parsers := []func([]byte) (any, error){
		x509.ParsePKCS8PrivateKey,
		func(b []byte) (any, error) { return x509.ParsePKCS1PrivateKey(b) },
		func(b []byte) (any, error) { return x509.ParseECPrivateKey(b) },
	}
	// The label's own format first, so its error is the one reported.
	switch label {
	case LabelRSAKey:
		parsers[0], parsers[1] = parsers[1], parsers[0]
	case LabelECKey:
		parsers[0], parsers[2] = parsers[2], parsers[0]
	}
	var first error
	for _, parse := range parsers {
		k, err := parse(der)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("csr: %s key of type %T cannot sign", label, k)
		}
		return s, nil
	}
	return nil, fmt.Errorf("csr: decoding %s: %w", label, first)
}
