package csr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
)

// Key algorithms accepted in csr.json "key.algo".
const (
	AlgoECDSA   = "ecdsa"
	AlgoRSA     = "rsa"
	AlgoEd25519 = "ed25519"
)

// RSA key sizes accepted in csr.json.
const (
	MinRSASize = 2048
	MaxRSASize = 8192
)

// KeyRequest is csr.json "key". A nil *KeyRequest means ecdsa 256.
type KeyRequest struct {
	Algo string `json:"algo"`
	// Size is the RSA modulus or ECDSA curve size in bits; Ed25519 ignores it.
	Size int `json:"size"`
}

// DefaultKeyRequest returns CFSSL's default key request, ecdsa 256.
func DefaultKeyRequest() *KeyRequest {
	return &KeyRequest{Algo: AlgoECDSA, Size: 256}
}

// Validate checks the algorithm and size: rsa 2048 to 8192 bits, ecdsa
// 256, 384 or 521, ed25519 any size. Algorithm names are lower case, as in
// CFSSL. The error says what is allowed and matches ErrInvalid.
func (k *KeyRequest) Validate() error {
	if k == nil {
		return nil
	}
	switch k.Algo {
	case AlgoRSA:
		if k.Size < MinRSASize || k.Size > MaxRSASize {
			return invalidf("key: rsa size %d not allowed: want %d to %d", k.Size, MinRSASize, MaxRSASize)
		}
	case AlgoECDSA:
		if _, err := k.curve(); err != nil {
			return err
		}
	case AlgoEd25519:
	default:
		return invalidf("key: algo %q not supported: want ecdsa, rsa or ed25519", k.Algo)
	}
	return nil
}

func (k *KeyRequest) curve() (elliptic.Curve, error) {
	switch k.Size {
	case 256:
		return elliptic.P256(), nil
	case 384:
		return elliptic.P384(), nil
	case 521:
		return elliptic.P521(), nil
	}
	return nil, invalidf("key: ecdsa size %d not allowed: want 256, 384 or 521", k.Size)
}

// Generate creates a new private key as requested (nil k: ecdsa 256). It
// returns the Validate error for a bad request, or a wrapped generation
// error.
func (k *KeyRequest) Generate() (crypto.Signer, error) {
	if k == nil {
		k = DefaultKeyRequest()
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	var (
		key crypto.Signer
		err error
	)
	switch k.Algo {
	case AlgoRSA:
		key, err = rsa.GenerateKey(rand.Reader, k.Size)
	case AlgoECDSA:
		c, _ := k.curve()
		key, err = ecdsa.GenerateKey(c, rand.Reader)
	case AlgoEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("csr: generating %s key: %w", k.Algo, err)
	}
	return key, nil
}
