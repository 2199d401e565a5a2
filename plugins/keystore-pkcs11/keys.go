//go:build cgo && !nopkcs11

package keystorepkcs11

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/miekg/pkcs11"
	"github.com/pkid/pkid/sdk"
)

// GenerateKey creates a key pair of req.Algorithm on the token: a private
// key that is CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE and not
// CKA_EXTRACTABLE, labelled req.ID (a random "key-…" id when empty).
// req.Attributes are not stored (the token has no place for them). Errors:
// sdk.ErrInvalidArgument (unknown algorithm, bad id), sdk.ErrAlreadyExists
// (a private key with that label exists), sdk.ErrUnimplemented (the token
// lacks the mechanism, e.g. Ed25519), sdk.ErrUnavailable (token
// unreachable), sdk.ErrFailedPrecondition (closed).
func (i *Instance) GenerateKey(ctx context.Context, req sdk.GenerateKeyRequest) (*sdk.KeyInfo, error) {
	if !slices.Contains(knownAlgorithms, req.Algorithm) {
		return nil, invalid("unsupported key algorithm %q", req.Algorithm)
	}
	id := req.ID
	if id == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = "key-" + hex.EncodeToString(b[:])
	} else if !validID(id) {
		return nil, invalid("invalid key id %q (letters, digits, '.', '_' and '-', at most 128)", id)
	}
	if err := checkMechanisms(i.mechs, i.token.Info.Label, req.Algorithm); err != nil {
		return nil, err
	}
	if err := i.claim(id); err != nil {
		return nil, err
	}
	defer i.unclaim(id)

	pubT, privT := templates(req.Algorithm, id)
	var e *keyEntry
	err := i.pool.do(ctx, func(h pkcs11.SessionHandle, gen uint64) error {
		hs, err := i.findObjects(h, pkcs11.CKO_PRIVATE_KEY, id, nil, false)
		if err != nil {
			return err
		}
		if len(hs) > 0 {
			return fmt.Errorf("keystore-pkcs11: key %q already exists on token %q: %w", id, i.token.Info.Label, sdk.ErrAlreadyExists)
		}
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(genMechanism(req.Algorithm), nil)}
		i.mod.createMu.Lock()
		_, priv, err := i.mod.ctx.GenerateKeyPair(h, mech, pubT, privT)
		i.mod.createMu.Unlock()
		if err != nil {
			return err
		}
		e, err = i.describe(h, priv, gen)
		return err
	})
	if err != nil {
		return nil, i.wrap(fmt.Sprintf("generating %s key %q", req.Algorithm, id), err)
	}
	i.remember(id, e)
	info := e.info
	return &info, nil
}

// claim reserves id for a generation in progress. Errors: wraps
// sdk.ErrAlreadyExists if another GenerateKey for id is running.
func (i *Instance) claim(id string) error {
	i.genMu.Lock()
	defer i.genMu.Unlock()
	if i.generating[id] {
		return fmt.Errorf("keystore-pkcs11: key %q is being generated: %w", id, sdk.ErrAlreadyExists)
	}
	i.generating[id] = true
	return nil
}

func (i *Instance) unclaim(id string) {
	i.genMu.Lock()
	defer i.genMu.Unlock()
	delete(i.generating, id)
}

// templates returns the public and private key templates for alg.
func templates(alg, id string) (pub, priv []*pkcs11.Attribute) {
	common := func(class uint) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, id),
			pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(id)),
		}
	}
	pub = append(common(pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false))
	priv = append(common(pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false))
	switch alg {
	case sdk.AlgRSA2048, sdk.AlgRSA3072, sdk.AlgRSA4096:
		bits := map[string]int{sdk.AlgRSA2048: 2048, sdk.AlgRSA3072: 3072, sdk.AlgRSA4096: 4096}[alg]
		pub = append(pub,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, bits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA))
	default:
		kt := uint(pkcs11.CKK_EC)
		if alg == sdk.AlgEd25519 {
			kt = ckkECEdwards
		}
		params, _ := ecParams(alg)
		pub = append(pub,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, kt),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, kt))
	}
	return pub, priv
}

// ListKeys describes every private key on the token that pkid can use;
// keys of other types are left out. Errors: sdk.ErrUnavailable,
// sdk.ErrFailedPrecondition (closed).
func (i *Instance) ListKeys(ctx context.Context) ([]sdk.KeyInfo, error) {
	var out []sdk.KeyInfo
	err := i.pool.do(ctx, func(h pkcs11.SessionHandle, gen uint64) error {
		out = out[:0]
		hs, err := i.findObjects(h, pkcs11.CKO_PRIVATE_KEY, "", nil, false)
		if err != nil {
			return err
		}
		for _, o := range hs {
			e, err := i.describe(h, o, gen)
			if errors.Is(err, sdk.ErrUnimplemented) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, e.info)
		}
		return nil
	})
	if err != nil {
		return nil, i.wrap("listing keys", err)
	}
	slices.SortFunc(out, func(a, b sdk.KeyInfo) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

// PublicKey describes the key named by id: its label or an RFC 7512
// pkcs11: URI. Errors: sdk.ErrNotFound, sdk.ErrInvalidArgument (malformed
// URI), sdk.ErrFailedPrecondition (ambiguous or closed), sdk.ErrUnavailable.
func (i *Instance) PublicKey(ctx context.Context, id string) (*sdk.KeyInfo, error) {
	e, err := i.entry(ctx, id)
	if err != nil {
		return nil, err
	}
	info := e.info
	return &info, nil
}

// entry returns the cached key for ref, looking it up on the token if
// needed.
func (i *Instance) entry(ctx context.Context, id string) (*keyEntry, error) {
	if i.closed.Load() {
		return nil, errClosed
	}
	i.mu.RLock()
	e := i.cache[id]
	i.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	ref, err := parseKeyRef(id)
	if err != nil {
		return nil, err
	}
	if ref.Token != "" && ref.Token != i.token.Info.Label || ref.Serial != "" && ref.Serial != i.token.Info.SerialNumber {
		return nil, fmt.Errorf("keystore-pkcs11: key %q is on another token than %q: %w", id, i.token.Info.Label, sdk.ErrNotFound)
	}
	err = i.pool.do(ctx, func(h pkcs11.SessionHandle, gen uint64) error {
		o, err := i.findPrivate(h, ref)
		if err != nil {
			return err
		}
		e, err = i.describe(h, o, gen)
		return err
	})
	if err != nil {
		return nil, i.wrap(fmt.Sprintf("reading key %q", id), err)
	}
	i.remember(id, e)
	return e, nil
}

func (i *Instance) remember(id string, e *keyEntry) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.cache[id] = e
}

func (i *Instance) forget(id string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	delete(i.cache, id)
}

// wrap passes sdk errors through and maps PKCS#11 return values onto sdk
// sentinels.
func (i *Instance) wrap(what string, err error) error {
	var p11 pkcs11.Error
	if !errors.As(err, &p11) {
		return err // already ours (or a context error)
	}
	for _, s := range []error{sdk.ErrNotFound, sdk.ErrAlreadyExists, sdk.ErrInvalidArgument,
		sdk.ErrFailedPrecondition, sdk.ErrUnauthenticated, sdk.ErrUnimplemented, sdk.ErrUnavailable} {
		if errors.Is(err, s) {
			return err // carries a sentinel already
		}
	}
	var sentinel error
	switch uint(p11) {
	case pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_MECHANISM_PARAM_INVALID,
		pkcs11.CKR_FUNCTION_NOT_SUPPORTED, pkcs11.CKR_KEY_TYPE_INCONSISTENT,
		pkcs11.CKR_CURVE_NOT_SUPPORTED, pkcs11.CKR_DOMAIN_PARAMS_INVALID,
		pkcs11.CKR_KEY_SIZE_RANGE, pkcs11.CKR_TEMPLATE_INCONSISTENT,
		pkcs11.CKR_ATTRIBUTE_VALUE_INVALID:
		sentinel = sdk.ErrUnimplemented
	case pkcs11.CKR_DATA_LEN_RANGE, pkcs11.CKR_DATA_INVALID, pkcs11.CKR_ARGUMENTS_BAD:
		sentinel = sdk.ErrInvalidArgument
	case pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_LOCKED, pkcs11.CKR_PIN_EXPIRED:
		sentinel = sdk.ErrUnauthenticated
	default:
		sentinel = sdk.ErrUnavailable
	}
	return fmt.Errorf("keystore-pkcs11: %s on token %q: %w: %w", what, i.token.Info.Label, err, sentinel)
}
