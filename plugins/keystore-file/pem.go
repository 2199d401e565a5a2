package keystorefile

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/pkid/pkid/sdk"
)

var oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}

// ParsePrivateKeyPEM parses the first private key in a PEM file:
// "RSA PRIVATE KEY" (PKCS #1), "EC PRIVATE KEY" (SEC 1, optionally after an
// "EC PARAMETERS" block as openssl writes it), "PRIVATE KEY" (PKCS #8,
// including Ed25519) and CFSSL's "Ed25519 PRIVATE KEY" (PKCS #8 content).
// Only RSA keys of 2048 to 16384 bits, ECDSA P-256/P-384/P-521 and Ed25519
// are accepted. Every error wraps sdk.ErrInvalidArgument, including
// encrypted PEM, which must be decrypted first.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, invalid("importing key: no PEM private key found")
		}
		if block.Type == "EC PARAMETERS" {
			continue // the curve is in the key block too
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, invalid("importing key: encrypted PEM private keys are not supported; decrypt it first (openssl pkey -in KEY -out PLAIN)")
		}
		key, err := parseBlock(block)
		if err != nil {
			return nil, err
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, invalid("importing key: unsupported key type %T", key)
		}
		if _, err := algorithmOf(signer.Public()); err != nil {
			return nil, err
		}
		return signer, nil
	}
}

func parseBlock(block *pem.Block) (any, error) {
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
		return nil, invalid("importing key: PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		// The x509 parsers' messages describe structure, never key bytes.
		return nil, fmt.Errorf("keystore-file: importing key: %q block: %v: %w", block.Type, err, sdk.ErrInvalidArgument)
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
		return nil, fmt.Errorf("malformed Ed25519 private key")
	}
	if !outer.Algorithm.Algorithm.Equal(oidEd25519) {
		return nil, fmt.Errorf("algorithm %v is not Ed25519", outer.Algorithm.Algorithm)
	}
	var inner []byte
	if rest, err := asn1.Unmarshal(outer.PrivateKey, &inner); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("malformed Ed25519 private key")
	}
	switch len(inner) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(inner), nil
	case ed25519.PrivateKeySize:
		k := ed25519.NewKeyFromSeed(inner[:ed25519.SeedSize])
		if !k.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(inner[ed25519.SeedSize:])) {
			return nil, fmt.Errorf("Ed25519 seed and public key disagree")
		}
		return k, nil
	}
	return nil, fmt.Errorf("Ed25519 private key of %d bytes", len(inner))
}
