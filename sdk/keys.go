package sdk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// RSA key sizes a keystore accepts: below 2048 bits is weak, above 16384
// bits is unreasonable work for every signature.
const (
	minRSABits = 2048
	maxRSABits = 16384
)

// GenerateKey creates a software key for alg, one of the Alg* constants.
// Errors wrap ErrInvalidArgument for any other name.
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case AlgRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case AlgRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case AlgECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case AlgECDSAP521:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case AlgEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unsupported key algorithm %q: %w", alg, ErrInvalidArgument)
}

// AlgorithmOf names a public key as KeyInfo.Algorithm does: an Alg*
// constant, or "rsa-<bits>" for RSA sizes between the constants (imported
// keys). Errors wrap ErrInvalidArgument for other key types, curves, and
// RSA keys outside 2048 to 16384 bits.
func AlgorithmOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < minRSABits || bits > maxRSABits {
			return "", fmt.Errorf("RSA key of %d bits, need %d to %d: %w", bits, minRSABits, maxRSABits, ErrInvalidArgument)
		}
		return fmt.Sprintf("rsa-%d", bits), nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return AlgECDSAP256, nil
		case elliptic.P384():
			return AlgECDSAP384, nil
		case elliptic.P521():
			return AlgECDSAP521, nil
		}
		return "", fmt.Errorf("unsupported ECDSA curve %s: %w", k.Curve.Params().Name, ErrInvalidArgument)
	case ed25519.PublicKey:
		return AlgEd25519, nil
	}
	return "", fmt.Errorf("unsupported key type %T: %w", pub, ErrInvalidArgument)
}

// DeriveKeyID names a key after its public key ("key-" and 16 hex digits
// of the SHA-256 of its SubjectPublicKeyInfo), for a keystore asked for a
// key without an id: the same key imported twice gets the same id, so the
// second import is ErrAlreadyExists. Errors wrap ErrInvalidArgument for a
// key x509 cannot encode.
func DeriveKeyID(pub crypto.PublicKey) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %v: %w", err, ErrInvalidArgument)
	}
	sum := sha256.Sum256(spki)
	return "key-" + hex.EncodeToString(sum[:8]), nil
}

var oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}

// ParsePrivateKeyPEM parses the first private key in PEM data, as
// ImportKeyRequest carries it: "RSA PRIVATE KEY" (PKCS #1), "EC PRIVATE
// KEY" (SEC 1, optionally after an "EC PARAMETERS" block as openssl writes
// it), "PRIVATE KEY" (PKCS #8, including Ed25519) and CFSSL's "Ed25519
// PRIVATE KEY" (PKCS #8 content). Only keys AlgorithmOf names are accepted.
// Every error wraps ErrInvalidArgument, including encrypted PEM, which must
// be decrypted first.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("no PEM private key found: %w", ErrInvalidArgument)
		}
		if block.Type == "EC PARAMETERS" {
			continue // the curve is in the key block too
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, fmt.Errorf("encrypted PEM private keys are not supported; decrypt it first (openssl pkey -in KEY -out PLAIN): %w", ErrInvalidArgument)
		}
		key, err := parseKeyBlock(block)
		if err != nil {
			return nil, err
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T: %w", key, ErrInvalidArgument)
		}
		if _, err := AlgorithmOf(signer.Public()); err != nil {
			return nil, err
		}
		return signer, nil
	}
}

func parseKeyBlock(block *pem.Block) (any, error) {
	var (
		key any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "Ed25519 PRIVATE KEY":
		key, err = parseCFSSLEd25519(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key: %w", block.Type, ErrInvalidArgument)
	}
	if err != nil {
		// The x509 parsers' messages describe structure, never key bytes.
		return nil, fmt.Errorf("%q block: %v: %w", block.Type, err, ErrInvalidArgument)
	}
	return key, nil
}

// parseCFSSLEd25519 reads CFSSL's "Ed25519 PRIVATE KEY" content, which is a
// PKCS #8 OneAsymmetricKey (RFC 8410). Some writers put the 64-byte
// seed||public form in the inner OCTET STRING instead of the 32-byte seed;
// that is accepted when the halves agree.
func parseCFSSLEd25519(der []byte) (any, error) {
	if key, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if _, ok := key.(ed25519.PrivateKey); !ok {
			return nil, fmt.Errorf("label says Ed25519 but the key is %T", key)
		}
		return key, nil
	}
	var outer struct {
		Version    int
		Algorithm  pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed Ed25519 private key")
	}
	if !outer.Algorithm.Algorithm.Equal(oidEd25519) {
		return nil, fmt.Errorf("algorithm %v is not Ed25519", outer.Algorithm.Algorithm)
	}
	var inner []byte
	if rest, err := asn1.Unmarshal(outer.PrivateKey, &inner); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed Ed25519 private key")
	}
	switch len(inner) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(inner), nil
	case ed25519.PrivateKeySize:
		k := ed25519.NewKeyFromSeed(inner[:ed25519.SeedSize])
		if !k.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(inner[ed25519.SeedSize:])) {
			return nil, errors.New("Ed25519 seed and public key disagree")
		}
		return k, nil
	}
	return nil, fmt.Errorf("Ed25519 private key of %d bytes", len(inner))
}
