package keystorepkcs11

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/pkid/pkid/sdk"
)

var (
	oidP256    = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384    = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521    = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// ecParams returns the DER CKA_EC_PARAMS (a named-curve OID) for an ECDSA
// or Ed25519 algorithm, and the curve for ECDSA.
func ecParams(alg string) ([]byte, elliptic.Curve) {
	var oid asn1.ObjectIdentifier
	var curve elliptic.Curve
	switch alg {
	case sdk.AlgECDSAP256:
		oid, curve = oidP256, elliptic.P256()
	case sdk.AlgECDSAP384:
		oid, curve = oidP384, elliptic.P384()
	case sdk.AlgECDSAP521:
		oid, curve = oidP521, elliptic.P521()
	case sdk.AlgEd25519:
		oid = oidEd25519
	default:
		return nil, nil
	}
	der, _ := asn1.Marshal(oid)
	return der, curve
}

// curveOf maps CKA_EC_PARAMS to an algorithm name. Tokens write Ed25519 as
// the OID or as the PrintableString "edwards25519".
func curveOf(params []byte) (string, error) {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params, &oid); err == nil && len(rest) == 0 {
		switch {
		case oid.Equal(oidP256):
			return sdk.AlgECDSAP256, nil
		case oid.Equal(oidP384):
			return sdk.AlgECDSAP384, nil
		case oid.Equal(oidP521):
			return sdk.AlgECDSAP521, nil
		case oid.Equal(oidEd25519):
			return sdk.AlgEd25519, nil
		}
		return "", fmt.Errorf("unsupported curve %v", oid)
	}
	var name string
	if rest, err := asn1.Unmarshal(params, &name); err == nil && len(rest) == 0 && name == "edwards25519" {
		return sdk.AlgEd25519, nil
	}
	return "", errors.New("unsupported or malformed CKA_EC_PARAMS")
}

// unwrapPoint removes the DER OCTET STRING around a CKA_EC_POINT if there is
// one (the standard form); some tokens return the raw point.
func unwrapPoint(point []byte, size int) []byte {
	if len(point) == size {
		return point
	}
	var inner []byte
	if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
		return inner
	}
	return point
}

// ecPublicKey builds the public key of an EC or Edwards key from
// CKA_EC_PARAMS and CKA_EC_POINT.
func ecPublicKey(params, point []byte) (string, crypto.PublicKey, error) {
	alg, err := curveOf(params)
	if err != nil {
		return "", nil, err
	}
	if alg == sdk.AlgEd25519 {
		p := unwrapPoint(point, ed25519.PublicKeySize)
		if len(p) != ed25519.PublicKeySize {
			return "", nil, fmt.Errorf("Ed25519 point of %d bytes", len(p))
		}
		return alg, ed25519.PublicKey(append([]byte(nil), p...)), nil
	}
	_, curve := ecParams(alg)
	n := (curve.Params().BitSize + 7) / 8
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, unwrapPoint(point, 1+2*n))
	if err != nil {
		return "", nil, fmt.Errorf("malformed EC point: %v", err)
	}
	return alg, pub, nil
}

// rsaPublicKey builds an RSA public key from CKA_MODULUS and
// CKA_PUBLIC_EXPONENT and names its algorithm "rsa-<bits>".
func rsaPublicKey(modulus, exponent []byte) (string, crypto.PublicKey, error) {
	n := new(big.Int).SetBytes(modulus)
	e := new(big.Int).SetBytes(exponent)
	if n.Sign() == 0 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return "", nil, errors.New("malformed RSA public key")
	}
	return fmt.Sprintf("rsa-%d", n.BitLen()), &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// ecdsaDER converts a PKCS#11 ECDSA signature (r||s, each the curve's byte
// length) to the ASN.1 DER form X.509 uses.
func ecdsaDER(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 {
		return nil, fmt.Errorf("token returned an ECDSA signature of %d bytes", len(raw))
	}
	h := len(raw) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(raw[:h]), new(big.Int).SetBytes(raw[h:]),
	})
}
