package keystorefile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"regexp"

	"github.com/pkid/pkid/sdk"
)

const (
	minRSABits = 2048
	maxRSABits = 16384
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// validID reports whether id is a safe file-name stem (no separators, no
// leading dot).
func validID(id string) bool { return idPattern.MatchString(id) }

// generate creates a key for one of the sdk.Alg* names. Errors: wraps
// sdk.ErrInvalidArgument for an unknown algorithm.
func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case sdk.AlgRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case sdk.AlgRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case sdk.AlgRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case sdk.AlgECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case sdk.AlgECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case sdk.AlgECDSAP521:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case sdk.AlgEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("keystore-file: unsupported key algorithm %q: %w", alg, sdk.ErrInvalidArgument)
}

// supportedAlgorithm reports whether generate accepts alg.
func supportedAlgorithm(alg string) bool {
	switch alg {
	case sdk.AlgRSA2048, sdk.AlgRSA3072, sdk.AlgRSA4096,
		sdk.AlgECDSAP256, sdk.AlgECDSAP384, sdk.AlgECDSAP521, sdk.AlgEd25519:
		return true
	}
	return false
}

// algorithmOf names a key the way KeyInfo does; RSA sizes other than the
// sdk constants (imported keys) are named "rsa-<bits>". Errors: wraps
// sdk.ErrInvalidArgument for unsupported types, curves and sizes.
func algorithmOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < minRSABits || bits > maxRSABits {
			return "", fmt.Errorf("keystore-file: RSA key of %d bits, need %d to %d: %w", bits, minRSABits, maxRSABits, sdk.ErrInvalidArgument)
		}
		return fmt.Sprintf("rsa-%d", bits), nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return sdk.AlgECDSAP256, nil
		case elliptic.P384():
			return sdk.AlgECDSAP384, nil
		case elliptic.P521():
			return sdk.AlgECDSAP521, nil
		}
		return "", fmt.Errorf("keystore-file: unsupported ECDSA curve %s: %w", k.Curve.Params().Name, sdk.ErrInvalidArgument)
	case ed25519.PublicKey:
		return sdk.AlgEd25519, nil
	}
	return "", fmt.Errorf("keystore-file: unsupported key type %T: %w", pub, sdk.ErrInvalidArgument)
}

// deriveID names a key after its public key, so the same key imported
// twice without an id is detected as a duplicate.
func deriveID(pub crypto.PublicKey) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("keystore-file: encoding public key: %w", err)
	}
	sum := sha256.Sum256(spki)
	return "key-" + hex.EncodeToString(sum[:8]), nil
}
