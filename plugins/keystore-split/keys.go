package keystoresplit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"regexp"

	"github.com/pkid/pkid/sdk"
)

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)
)

// validID reports whether id is a safe file-name stem.
func validID(id string) bool { return idPattern.MatchString(id) }

// validName reports whether a custodian name is acceptable.
func validName(n string) bool { return namePattern.MatchString(n) }

func supportedAlgorithm(alg string) bool {
	switch alg {
	case sdk.AlgRSA2048, sdk.AlgRSA3072, sdk.AlgRSA4096,
		sdk.AlgECDSAP256, sdk.AlgECDSAP384, sdk.AlgECDSAP521, sdk.AlgEd25519:
		return true
	}
	return false
}

// signDigest signs a record digest with signer (Ed25519 over the digest as
// its message, others over the SHA-256 digest).
func signDigest(signer crypto.Signer, digest []byte) ([]byte, error) {
	req := sdk.SignRequest{Digest: digest, Hash: crypto.SHA256}
	if _, ok := signer.Public().(ed25519.PublicKey); ok {
		req.Hash = 0
	}
	return sdk.SignWith(signer, req)
}

// verifyDigest checks a signature made by signDigest.
func verifyDigest(pub crypto.PublicKey, digest, sig []byte) error {
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) == nil
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, digest, sig)
	default:
		return fmt.Errorf("unsupported public key type %T", pub)
	}
	if !ok {
		return errors.New("signature does not verify")
	}
	return nil
}

// isHealthProbe reports whether req is the core's health probe: a signature
// over the fixed text "pkid health probe" (see core/server KeyProbe). It
// proves the key is usable without being usable for anything else (the text
// is no certificate, CRL or OCSP response), so it does not count against a
// delegation's uses.
func isHealthProbe(req sdk.SignRequest) bool {
	const probe = "pkid health probe"
	if req.Hash == 0 {
		return string(req.Digest) == probe
	}
	if req.Hash != crypto.SHA256 {
		return false
	}
	sum := sha256.Sum256([]byte(probe))
	return string(req.Digest) == string(sum[:])
}

// publicKeyEqual compares two public keys.
func publicKeyEqual(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	k, ok := a.(eq)
	return ok && k.Equal(b)
}

// wipe zeroes a private key's secret numbers. It is best effort: Go's
// crypto packages keep derived copies (precomputed values, FIPS key
// structures) that are only dropped with the last reference.
func wipe(s crypto.Signer) {
	zero := func(n *big.Int) {
		if n != nil {
			clear(n.Bits())
			n.SetInt64(0)
		}
	}
	switch k := s.(type) {
	case *ecdsa.PrivateKey:
		zero(k.D)
	case *rsa.PrivateKey:
		zero(k.D)
		for _, p := range k.Primes {
			zero(p)
		}
		zero(k.Precomputed.Dp)
		zero(k.Precomputed.Dq)
		zero(k.Precomputed.Qinv)
	case ed25519.PrivateKey:
		clear(k)
	}
}

// marshalPublic returns the PKIX DER of pub.
func marshalPublic(pub crypto.PublicKey) ([]byte, error) { return x509.MarshalPKIXPublicKey(pub) }
