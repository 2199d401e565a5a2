//go:build cgo && !nopkcs11

package keystorepkcs11

import (
	"fmt"

	"github.com/miekg/pkcs11"
	"github.com/pkid/pkid/sdk"
)

// PKCS#11 v3.0 values that miekg/pkcs11 v1.1.2 does not define.
const (
	ckkECEdwards           = 0x40
	ckmECEdwardsKeyPairGen = 0x1055
	ckmEdDSA               = 0x1057
)

var mechNames = map[uint]string{
	pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN: "CKM_RSA_PKCS_KEY_PAIR_GEN",
	pkcs11.CKM_RSA_PKCS:              "CKM_RSA_PKCS",
	pkcs11.CKM_RSA_PKCS_PSS:          "CKM_RSA_PKCS_PSS",
	pkcs11.CKM_EC_KEY_PAIR_GEN:       "CKM_EC_KEY_PAIR_GEN",
	pkcs11.CKM_ECDSA:                 "CKM_ECDSA",
	ckmECEdwardsKeyPairGen:           "CKM_EC_EDWARDS_KEY_PAIR_GEN",
	ckmEdDSA:                         "CKM_EDDSA",
}

// genMechanism returns the key-pair generation mechanism of alg.
func genMechanism(alg string) uint {
	switch alg {
	case sdk.AlgRSA2048, sdk.AlgRSA3072, sdk.AlgRSA4096:
		return pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN
	case sdk.AlgEd25519:
		return ckmECEdwardsKeyPairGen
	}
	return pkcs11.CKM_EC_KEY_PAIR_GEN
}

// signMechanisms returns the signing mechanisms of alg.
func signMechanisms(alg string) []uint {
	switch alg {
	case sdk.AlgRSA2048, sdk.AlgRSA3072, sdk.AlgRSA4096:
		return []uint{pkcs11.CKM_RSA_PKCS}
	case sdk.AlgEd25519:
		return []uint{ckmEdDSA}
	}
	return []uint{pkcs11.CKM_ECDSA}
}

// checkMechanisms reports the first mechanism alg needs that the token
// lacks. Errors wrap sdk.ErrUnimplemented.
func checkMechanisms(mechs map[uint]bool, token, alg string) error {
	for _, m := range append([]uint{genMechanism(alg)}, signMechanisms(alg)...) {
		if !mechs[m] {
			return mechMissing(token, alg, m)
		}
	}
	return nil
}

func mechMissing(token, what string, m uint) error {
	return fmt.Errorf("keystore-pkcs11: token %q does not support %s (no %s): %w", token, what, mechNames[m], sdk.ErrUnimplemented)
}
