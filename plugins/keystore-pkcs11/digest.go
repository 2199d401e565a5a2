package keystorepkcs11

import (
	"crypto"
	_ "crypto/sha256" // hash implementations must be linked for Hash.Available
	_ "crypto/sha3"
	_ "crypto/sha512"
	"encoding/asn1"
	"fmt"

	"github.com/pkid/pkid/sdk"
)

// hashOIDs are the digests Sign accepts with their DigestInfo algorithm
// OIDs. SHA-1 and MD5 are refused: pkid never signs with them.
var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA224:     {2, 16, 840, 1, 101, 3, 4, 2, 4},
	crypto.SHA256:     {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384:     {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512:     {2, 16, 840, 1, 101, 3, 4, 2, 3},
	crypto.SHA512_224: {2, 16, 840, 1, 101, 3, 4, 2, 5},
	crypto.SHA512_256: {2, 16, 840, 1, 101, 3, 4, 2, 6},
	crypto.SHA3_224:   {2, 16, 840, 1, 101, 3, 4, 2, 7},
	crypto.SHA3_256:   {2, 16, 840, 1, 101, 3, 4, 2, 8},
	crypto.SHA3_384:   {2, 16, 840, 1, 101, 3, 4, 2, 9},
	crypto.SHA3_512:   {2, 16, 840, 1, 101, 3, 4, 2, 10},
}

// checkDigest validates the hash and digest length for RSA and ECDSA.
// Errors wrap sdk.ErrInvalidArgument.
func checkDigest(req sdk.SignRequest) error {
	if req.Hash == 0 {
		return invalid("a hash is required for %q (Hash 0 is for Ed25519 only)", req.KeyID)
	}
	// Checked first: Hash.Size panics on values it does not know.
	if _, ok := hashOIDs[req.Hash]; !ok || !req.Hash.Available() {
		return invalid("hash %v is not allowed", req.Hash)
	}
	if len(req.Digest) != req.Hash.Size() {
		return invalid("digest is %d bytes, %v needs %d", len(req.Digest), req.Hash, req.Hash.Size())
	}
	return nil
}

// digestInfo returns the PKCS #1 v1.5 DigestInfo of a digest checked by
// checkDigest: SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING digest }.
func digestInfo(h crypto.Hash, digest []byte) []byte {
	type algID struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue
	}
	der, err := asn1.Marshal(struct {
		Alg    algID
		Digest []byte
	}{algID{hashOIDs[h], asn1.NullRawValue}, digest})
	if err != nil {
		panic(err) // fixed structure; cannot fail
	}
	return der
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("keystore-pkcs11: "+format+": %w", append(args, sdk.ErrInvalidArgument)...)
}
