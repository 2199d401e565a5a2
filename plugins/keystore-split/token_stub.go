//go:build !cgo || nopkcs11

package keystoresplit

import (
	"errors"

	"filippo.io/age"
)

// errNoPKCS11 is what every token operation returns in a build without
// PKCS#11 support. Sealing a share to a token recipient needs no token and
// works in every build.
var errNoPKCS11 = errors.New("this pkid was built without PKCS#11 support (cgo disabled or -tags nopkcs11): use a build with cgo to unseal a share on a token")

func tokenRecipientFor(tokenRequest) (*tokenRecipient, error) { return nil, errNoPKCS11 }

func openTokenIdentity(tokenRequest, *tokenRecipient, string) (age.Identity, func(), error) {
	return nil, nil, errNoPKCS11
}
