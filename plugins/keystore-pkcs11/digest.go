package keystorepkcs11

import (
	"crypto"
	"encoding/asn1"
	"fmt"

	"github.com/pkid/pkid/sdk"
)

// hashOIDs are the DigestInfo algorithm OIDs of the hashes
// sdk.CheckSignRequest allows (SHA-1 and MD5 are refused there).
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

// digestInfo returns the PKCS #1 v1.5 DigestInfo of a digest checked by
// sdk.CheckSignRequest: SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING digest }.
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
