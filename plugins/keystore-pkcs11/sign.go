//go:build cgo && !nopkcs11

package keystorepkcs11

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
	"github.com/pkid/pkid/sdk"
)

// pssHashes maps the digests RSA-PSS accepts to their PKCS#11 hash and MGF.
var pssHashes = map[crypto.Hash][2]uint{
	crypto.SHA224: {pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224},
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
	crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
}

// Sign signs req.Digest with the key req.KeyID (a label or pkcs11: URI)
// on the token. The hash is computed by the caller; the token sees only the
// digest: ECDSA keys use raw CKM_ECDSA and return ASN.1 DER; RSA keys use
// CKM_RSA_PKCS over the DigestInfo or, if req.PSS, CKM_RSA_PKCS_PSS;
// Ed25519 keys sign the message in req.Digest with CKM_EDDSA (req.Hash 0).
// Errors: sdk.ErrNotFound (unknown key), sdk.ErrInvalidArgument (a request
// sdk.CheckSignRequest refuses: MD5 or SHA-1, digest length, PSS on a
// non-RSA key, a hash with Ed25519, bad salt length), sdk.ErrUnimplemented (the token lacks the mechanism, or
// RSA-PSS with a hash other than SHA-2), sdk.ErrUnavailable (the token
// failed even after a fresh session), sdk.ErrFailedPrecondition (closed).
func (i *Instance) Sign(ctx context.Context, req sdk.SignRequest) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, err := i.entry(ctx, req.KeyID)
	if err != nil {
		return nil, err
	}
	mech, data, err := i.mechanism(e, req)
	if err != nil {
		return nil, err
	}
	if !i.mechs[mech.Mechanism] {
		return nil, mechMissing(i.token.Info.Label, "signing with "+e.info.Algorithm+" keys", mech.Mechanism)
	}
	sig, err := i.signRaw(ctx, req.KeyID, e, mech, data)
	if err != nil {
		return nil, err
	}
	if e.keyType == pkcs11.CKK_EC {
		return ecdsaDER(sig)
	}
	return sig, nil
}

// mechanism picks the mechanism and the data the token signs, once
// sdk.CheckSignRequest has accepted req for the key.
func (i *Instance) mechanism(e *keyEntry, req sdk.SignRequest) (*pkcs11.Mechanism, []byte, error) {
	if err := sdk.CheckSignRequest(e.info.PublicKey, req); err != nil {
		return nil, nil, fmt.Errorf("keystore-pkcs11: %w", err)
	}
	switch e.keyType {
	case pkcs11.CKK_EC:
		return pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil), req.Digest, nil
	case ckkECEdwards:
		return pkcs11.NewMechanism(ckmEdDSA, nil), req.Digest, nil
	case pkcs11.CKK_RSA:
		if !req.PSS {
			return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil), digestInfo(req.Hash, req.Digest), nil
		}
		hm, ok := pssHashes[req.Hash]
		if !ok {
			return nil, nil, fmt.Errorf("keystore-pkcs11: RSA-PSS with %v is not supported (SHA-224 to SHA-512 only): %w", req.Hash, sdk.ErrUnimplemented)
		}
		salt := req.SaltLength
		switch salt {
		case rsa.PSSSaltLengthEqualsHash:
			salt = req.Hash.Size()
		case rsa.PSSSaltLengthAuto: // the largest salt, as crypto/rsa signs
			salt = (e.info.PublicKey.(*rsa.PublicKey).N.BitLen()-1+7)/8 - req.Hash.Size() - 2
		}
		return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hm[0], hm[1], uint(salt))), req.Digest, nil
	}
	return nil, nil, fmt.Errorf("keystore-pkcs11: key %q has unsupported type: %w", req.KeyID, sdk.ErrUnimplemented)
}

// signRaw runs C_SignInit and C_Sign on a pooled session. A key handle
// from an older pool generation, or one the token no longer knows, is
// looked up again; a key that disappeared is sdk.ErrNotFound.
func (i *Instance) signRaw(ctx context.Context, id string, e *keyEntry, mech *pkcs11.Mechanism, data []byte) ([]byte, error) {
	var sig []byte
	err := i.pool.do(ctx, func(h pkcs11.SessionHandle, gen uint64) error {
		for attempt := 0; ; attempt++ {
			ref := e.handle.Load()
			if ref.gen != gen || attempt > 0 {
				o, err := i.findPrivate(h, keyRef{Label: e.label, ID: e.id, HasID: true, original: id})
				if err != nil {
					return err
				}
				ref = &handleRef{gen, o}
				e.handle.Store(ref)
			}
			err := i.mod.ctx.SignInit(h, []*pkcs11.Mechanism{mech}, ref.h)
			if err == nil {
				sig, err = i.mod.ctx.Sign(h, data)
			}
			if attempt == 0 && (isCode(err, pkcs11.CKR_KEY_HANDLE_INVALID) || isCode(err, pkcs11.CKR_OBJECT_HANDLE_INVALID)) {
				continue
			}
			return err
		}
	})
	if errors.Is(err, sdk.ErrNotFound) {
		i.forget(id)
	}
	if err != nil {
		return nil, i.wrap(fmt.Sprintf("signing with %q", id), err)
	}
	return sig, nil
}
