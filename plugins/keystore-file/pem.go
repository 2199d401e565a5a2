package keystorefile

import (
	"crypto"
	"fmt"

	"github.com/pkid/pkid/sdk"
)

// ParsePrivateKeyPEM parses the first private key in a PEM file, in the
// formats ImportKey accepts: those of sdk.ParsePrivateKeyPEM (PKCS #1,
// SEC 1, PKCS #8, CFSSL's "Ed25519 PRIVATE KEY"). Every error wraps
// sdk.ErrInvalidArgument, including encrypted PEM, which must be decrypted
// first.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	signer, err := sdk.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("keystore-file: importing key: %w", err)
	}
	return signer, nil
}
