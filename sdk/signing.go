package sdk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // linked so that Hash.Available reports the allowed hashes
	_ "crypto/sha3"
	_ "crypto/sha512"
	"fmt"
)

// signHashes are the hashes a keystore signs digests of. MD5 and SHA-1 are
// refused: pkid never signs with them, whatever the caller asks.
var signHashes = map[crypto.Hash]bool{
	crypto.SHA224: true, crypto.SHA256: true, crypto.SHA384: true, crypto.SHA512: true,
	crypto.SHA512_224: true, crypto.SHA512_256: true,
	crypto.SHA3_224: true, crypto.SHA3_256: true, crypto.SHA3_384: true, crypto.SHA3_512: true,
}

// CheckSignRequest applies the signing policy every KeyStore applies before
// signing req with the key whose public half is pub:
//   - Ed25519 keys sign the message itself: Hash must be 0 and PSS unset;
//   - RSA and ECDSA keys sign a digest: Hash must be a SHA-2 or SHA-3 hash
//     (never MD5 or SHA-1), and Digest exactly Hash.Size() bytes;
//   - PSS is for RSA keys only, with SaltLength rsa.PSSSaltLengthAuto,
//     rsa.PSSSaltLengthEqualsHash or 0 up to the largest salt the key and
//     hash leave room for.
//
// Errors wrap ErrInvalidArgument, or ErrUnimplemented for a public key type
// other than *rsa.PublicKey, *ecdsa.PublicKey and ed25519.PublicKey.
func CheckSignRequest(pub crypto.PublicKey, req SignRequest) error {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if req.PSS {
			return fmt.Errorf("PSS requested for Ed25519 key %q: %w", req.KeyID, ErrInvalidArgument)
		}
		if req.Hash != 0 {
			return fmt.Errorf("Ed25519 key %q signs the message itself, not a %v digest (set Hash to 0): %w", req.KeyID, req.Hash, ErrInvalidArgument)
		}
		return nil
	case *ecdsa.PublicKey:
		if req.PSS {
			return fmt.Errorf("PSS requested for ECDSA key %q: %w", req.KeyID, ErrInvalidArgument)
		}
		return checkDigest(req)
	case *rsa.PublicKey:
		if err := checkDigest(req); err != nil || !req.PSS {
			return err
		}
		// As crypto/rsa computes it: the encoded message's bytes less the
		// hash and two bytes of padding.
		maxSalt := (k.N.BitLen()-1+7)/8 - req.Hash.Size() - 2
		switch s := req.SaltLength; {
		case s == rsa.PSSSaltLengthAuto, s == rsa.PSSSaltLengthEqualsHash && req.Hash.Size() <= maxSalt:
		case s < 0 || s > maxSalt:
			return fmt.Errorf("invalid PSS salt length %d (0 to %d for this key and hash): %w", s, maxSalt, ErrInvalidArgument)
		}
		return nil
	}
	return fmt.Errorf("key %q has unsupported type %T: %w", req.KeyID, pub, ErrUnimplemented)
}

// SignWith signs req with a Go private key after CheckSignRequest accepts
// it: PKCS #1 v1.5 or, with req.PSS, RSASSA-PSS for RSA keys; ASN.1 DER for
// ECDSA; pure Ed25519 over req.Digest. It is all a keystore holding Go keys
// needs between finding the key and returning the signature. Errors:
// those of CheckSignRequest, or the signer's own.
func SignWith(signer crypto.Signer, req SignRequest) ([]byte, error) {
	if err := CheckSignRequest(signer.Public(), req); err != nil {
		return nil, err
	}
	var opts crypto.SignerOpts = req.Hash
	if req.PSS {
		opts = &rsa.PSSOptions{SaltLength: req.SaltLength, Hash: req.Hash}
	}
	sig, err := signer.Sign(rand.Reader, req.Digest, opts)
	if err != nil {
		return nil, fmt.Errorf("signing with %q: %w", req.KeyID, err)
	}
	return sig, nil
}

// checkDigest checks the hash policy and the digest length.
func checkDigest(req SignRequest) error {
	if req.Hash == 0 {
		return fmt.Errorf("a hash is required for %q (Hash 0 is for Ed25519 only): %w", req.KeyID, ErrInvalidArgument)
	}
	// Checked first: Hash.Size panics on values it does not know.
	if !signHashes[req.Hash] || !req.Hash.Available() {
		return fmt.Errorf("hash %v is not allowed for signing: %w", req.Hash, ErrInvalidArgument)
	}
	if len(req.Digest) != req.Hash.Size() {
		return fmt.Errorf("digest is %d bytes, %v needs %d: %w", len(req.Digest), req.Hash, req.Hash.Size(), ErrInvalidArgument)
	}
	return nil
}
