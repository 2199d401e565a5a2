//go:build cgo && !nopkcs11

package keystorepkcs11

import (
	"crypto"
	"encoding/binary"
	"fmt"

	"github.com/miekg/pkcs11"
	"github.com/pkid/pkid/sdk"
)

// findObjects returns the handles of objects of class matching ref.
func (i *Instance) findObjects(h pkcs11.SessionHandle, class uint, label string, id []byte, hasID bool) ([]pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, class)}
	if label != "" {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
	}
	if hasID {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, id))
	}
	ctx := i.mod.ctx
	if err := ctx.FindObjectsInit(h, tmpl); err != nil {
		return nil, err
	}
	var all []pkcs11.ObjectHandle
	for {
		hs, _, err := ctx.FindObjects(h, 64)
		if err != nil {
			_ = ctx.FindObjectsFinal(h)
			return nil, err
		}
		all = append(all, hs...)
		if len(hs) < 64 {
			break
		}
	}
	return all, ctx.FindObjectsFinal(h)
}

// findPrivate returns the one private key ref names. Errors: wraps
// sdk.ErrNotFound (none) or sdk.ErrFailedPrecondition (several).
func (i *Instance) findPrivate(h pkcs11.SessionHandle, ref keyRef) (pkcs11.ObjectHandle, error) {
	hs, err := i.findObjects(h, pkcs11.CKO_PRIVATE_KEY, ref.Label, ref.ID, ref.HasID)
	if err != nil {
		return 0, err
	}
	switch len(hs) {
	case 0:
		return 0, fmt.Errorf("keystore-pkcs11: no key %q on token %q: %w", ref.original, i.token.Info.Label, sdk.ErrNotFound)
	case 1:
		return hs[0], nil
	}
	return 0, fmt.Errorf("keystore-pkcs11: %d private keys on token %q match %q; name one by pkcs11 URI with id=: %w", len(hs), i.token.Info.Label, ref.original, sdk.ErrFailedPrecondition)
}

// attrs reads attributes of an object; missing ones come back empty.
func (i *Instance) attrs(h pkcs11.SessionHandle, o pkcs11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	tmpl := make([]*pkcs11.Attribute, len(types))
	for n, t := range types {
		tmpl[n] = pkcs11.NewAttribute(t, nil)
	}
	out := make(map[uint][]byte, len(types))
	got, err := i.mod.ctx.GetAttributeValue(h, o, tmpl)
	if err == nil {
		for _, a := range got {
			out[a.Type] = a.Value
		}
		return out, nil
	}
	if !isCode(err, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID) && !isCode(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
		return nil, err
	}
	// One attribute does not apply to this object: read them one by one.
	for _, t := range types {
		got, err := i.mod.ctx.GetAttributeValue(h, o, []*pkcs11.Attribute{pkcs11.NewAttribute(t, nil)})
		switch {
		case err == nil && len(got) == 1:
			out[t] = got[0].Value
		case err != nil && !isCode(err, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID) && !isCode(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE):
			return nil, err
		}
	}
	return out, nil
}

// describe reads a private key and its public key object into a keyEntry.
// Errors wrap sdk.ErrUnimplemented for key types pkid cannot use.
func (i *Instance) describe(h pkcs11.SessionHandle, priv pkcs11.ObjectHandle, gen uint64) (*keyEntry, error) {
	a, err := i.attrs(h, priv, pkcs11.CKA_KEY_TYPE, pkcs11.CKA_LABEL, pkcs11.CKA_ID)
	if err != nil {
		return nil, err
	}
	e := &keyEntry{label: string(a[pkcs11.CKA_LABEL]), id: a[pkcs11.CKA_ID], keyType: bytesToUint(a[pkcs11.CKA_KEY_TYPE])}
	e.handle.Store(&handleRef{gen, priv})
	pubs, err := i.findObjects(h, pkcs11.CKO_PUBLIC_KEY, e.label, e.id, true)
	if err != nil {
		return nil, err
	}
	var alg string
	var pub crypto.PublicKey
	switch e.keyType {
	case pkcs11.CKK_RSA:
		src := priv // the modulus and exponent are public on the private key too
		if len(pubs) > 0 {
			src = pubs[0]
		}
		pa, aerr := i.attrs(h, src, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT)
		if aerr != nil {
			return nil, aerr
		}
		alg, pub, err = rsaPublicKey(pa[pkcs11.CKA_MODULUS], pa[pkcs11.CKA_PUBLIC_EXPONENT])
	case pkcs11.CKK_EC, ckkECEdwards:
		if len(pubs) == 0 {
			return nil, fmt.Errorf("keystore-pkcs11: key %q has no public key object on token %q: %w", e.label, i.token.Info.Label, sdk.ErrUnimplemented)
		}
		pa, aerr := i.attrs(h, pubs[0], pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT)
		if aerr != nil {
			return nil, aerr
		}
		alg, pub, err = ecPublicKey(pa[pkcs11.CKA_EC_PARAMS], pa[pkcs11.CKA_EC_POINT])
	default:
		return nil, fmt.Errorf("keystore-pkcs11: key %q has unsupported key type 0x%x: %w", e.label, e.keyType, sdk.ErrUnimplemented)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore-pkcs11: key %q: %v: %w", e.label, err, sdk.ErrUnimplemented)
	}
	kid := e.label
	if kid == "" {
		kid = "pkcs11:id=" + uriEscape(e.id, true) + ";type=private"
	}
	e.info = sdk.KeyInfo{ID: kid, Algorithm: alg, PublicKey: pub, Attributes: map[string]string{
		"uri":   keyURI(i.token.Info.Label, e.label, e.id),
		"token": i.token.Info.Label,
	}}
	return e, nil
}

// bytesToUint decodes a CK_ULONG attribute (native byte order, as
// miekg/pkcs11 returns it).
func bytesToUint(b []byte) uint {
	switch len(b) {
	case 8:
		return uint(binary.NativeEndian.Uint64(b))
	case 4:
		return uint(binary.NativeEndian.Uint32(b))
	}
	return ^uint(0)
}
