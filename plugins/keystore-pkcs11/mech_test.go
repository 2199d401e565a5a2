//go:build cgo && !nopkcs11

package keystorepkcs11

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/pkid/pkid/sdk"
)

func TestCheckMechanisms(t *testing.T) {
	mechs := map[uint]bool{pkcs11.CKM_EC_KEY_PAIR_GEN: true, pkcs11.CKM_ECDSA: true}
	if err := checkMechanisms(mechs, "pkid", sdk.AlgECDSAP256); err != nil {
		t.Fatal(err)
	}
	err := checkMechanisms(mechs, "pkid", sdk.AlgRSA2048)
	if !errors.Is(err, sdk.ErrUnimplemented) || !strings.Contains(err.Error(), `token "pkid" does not support rsa-2048 (no CKM_RSA_PKCS_KEY_PAIR_GEN)`) {
		t.Fatalf("checkMechanisms(rsa-2048) = %v", err)
	}
}

// TestKeyAttributes checks that generated private keys stay on the token:
// CKA_TOKEN, CKA_SENSITIVE and not CKA_EXTRACTABLE, and that their value
// cannot be read.
func TestKeyAttributes(t *testing.T) {
	p := New()
	tok := softhsmToken(t)
	inst, err := p.Configure(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	i := inst.(*Instance)
	for _, alg := range []string{sdk.AlgECDSAP256, sdk.AlgRSA2048, sdk.AlgEd25519} {
		if _, err := i.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: "attr-" + alg, Algorithm: alg}); err != nil {
			t.Fatal(err)
		}
		err := i.pool.do(t.Context(), func(h pkcs11.SessionHandle, _ uint64) error {
			o, err := i.findPrivate(h, keyRef{Label: "attr-" + alg})
			if err != nil {
				return err
			}
			a, err := i.attrs(h, o, pkcs11.CKA_TOKEN, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_PRIVATE, pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE)
			if err != nil {
				return err
			}
			for attr, want := range map[uint]byte{pkcs11.CKA_TOKEN: 1, pkcs11.CKA_SENSITIVE: 1, pkcs11.CKA_EXTRACTABLE: 0,
				pkcs11.CKA_PRIVATE: 1, pkcs11.CKA_ALWAYS_SENSITIVE: 1, pkcs11.CKA_NEVER_EXTRACTABLE: 1} {
				if v := a[attr]; len(v) != 1 || v[0] != want {
					t.Errorf("%s: attribute 0x%x = %v, want %d", alg, attr, v, want)
				}
			}
			secret := uint(pkcs11.CKA_VALUE)
			if alg == sdk.AlgRSA2048 {
				secret = pkcs11.CKA_PRIVATE_EXPONENT
			}
			_, err = i.mod.ctx.GetAttributeValue(h, o, []*pkcs11.Attribute{pkcs11.NewAttribute(secret, nil)})
			if !isCode(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
				t.Errorf("%s: reading the private value: %v, want CKR_ATTRIBUTE_SENSITIVE", alg, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
