package keystorefile

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // PSS needs the hash implementations linked
	_ "crypto/sha3"
	_ "crypto/sha512"
	"fmt"

	"github.com/pkid/pkid/sdk"
)

// signHashes are the digests Sign accepts. SHA-1 and MD5 are refused: pkid
// never signs with them (docs/differences-from-cfssl.md, "No SHA-1, no
// leaf outliving its issuer").
var signHashes = map[crypto.Hash]bool{
	crypto.SHA224: true, crypto.SHA256: true, crypto.SHA384: true, crypto.SHA512: true,
	crypto.SHA512_224: true, crypto.SHA512_256: true,
	crypto.SHA3_224: true, crypto.SHA3_256: true, crypto.SHA3_384: true, crypto.SHA3_512: true,
}

// Sign signs req.Digest with key req.KeyID: RSA keys with PKCS #1 v1.5 or,
// if req.PSS, RSASSA-PSS; ECDSA keys with an ASN.1 DER signature; Ed25519
// keys over the message in req.Digest (req.Hash must be 0). Errors:
// sdk.ErrNotFound (unknown key), sdk.ErrInvalidArgument (hash not allowed,
// digest length not req.Hash.Size(), PSS on a non-RSA key, a hash with an
// Ed25519 key, bad salt length), sdk.ErrFailedPrecondition (closed).
func (s *store) Sign(ctx context.Context, req sdk.SignRequest) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, err := s.lookup(req.KeyID)
	if err != nil {
		return nil, err
	}
	switch k := e.signer.(type) {
	case *rsa.PrivateKey:
		if err := checkDigest(req); err != nil {
			return nil, err
		}
		var sig []byte
		if req.PSS {
			if req.SaltLength < rsa.PSSSaltLengthEqualsHash {
				return nil, invalid("invalid PSS salt length %d", req.SaltLength)
			}
			sig, err = rsa.SignPSS(rand.Reader, k, req.Hash, req.Digest,
				&rsa.PSSOptions{SaltLength: req.SaltLength, Hash: req.Hash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, req.Hash, req.Digest)
		}
		if err != nil {
			// crypto/rsa fails only on parameters (hash, salt, size).
			return nil, fmt.Errorf("keystore-file: signing with %q: %v: %w", req.KeyID, err, sdk.ErrInvalidArgument)
		}
		return sig, nil
	case *ecdsa.PrivateKey:
		if req.PSS {
			return nil, invalid("PSS requested for %s key %q", e.info.Algorithm, req.KeyID)
		}
		if err := checkDigest(req); err != nil {
			return nil, err
		}
		sig, err := ecdsa.SignASN1(rand.Reader, k, req.Digest)
		if err != nil {
			return nil, fmt.Errorf("keystore-file: signing with %q: %w", req.KeyID, err)
		}
		return sig, nil
	case ed25519.PrivateKey:
		if req.PSS {
			return nil, invalid("PSS requested for %s key %q", e.info.Algorithm, req.KeyID)
		}
		if req.Hash != 0 {
			return nil, invalid("Ed25519 key %q signs the message itself, not a %v digest (set Hash to 0)", req.KeyID, req.Hash)
		}
		return ed25519.Sign(k, req.Digest), nil
	}
	return nil, fmt.Errorf("keystore-file: key %q has unsupported type %T: %w", req.KeyID, e.signer, sdk.ErrUnimplemented)
}

// checkDigest validates the hash and digest length for RSA and ECDSA.
func checkDigest(req sdk.SignRequest) error {
	if req.Hash == 0 {
		return invalid("a hash is required for %q (Hash 0 is for Ed25519 only)", req.KeyID)
	}
	// Checked first: Hash.Size panics on values it does not know.
	if !signHashes[req.Hash] || !req.Hash.Available() {
		return invalid("hash %v is not allowed", req.Hash)
	}
	if len(req.Digest) != req.Hash.Size() {
		return invalid("digest is %d bytes, %v needs %d", len(req.Digest), req.Hash, req.Hash.Size())
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("keystore-file: "+format+": %w", append(args, sdk.ErrInvalidArgument)...)
}
