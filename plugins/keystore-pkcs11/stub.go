//go:build nopkcs11 || !cgo

package keystorepkcs11

import (
	"context"
	"fmt"

	"github.com/pkid/pkid/sdk"
)

// registry is empty in builds without PKCS#11 support.
type registry struct{}

// errNoPKCS11 explains how to get a build that can use PKCS#11.
var errNoPKCS11 = fmt.Errorf("keystore-pkcs11: this pkid was built without PKCS#11 support (no cgo, or -tags nopkcs11); "+
	"build it with CGO_ENABLED=1 and a C compiler, without -tags nopkcs11 (or use a release build with PKCS#11 support): %w", sdk.ErrUnimplemented)

// configure always fails: the build has no PKCS#11 support.
func (*plugin) configure(context.Context, string, *config) (sdk.Instance, error) {
	return nil, errNoPKCS11
}

// RunCommand always fails: the build has no PKCS#11 support.
func (*plugin) RunCommand(context.Context, sdk.CommandRequest) (int, error) {
	return 1, errNoPKCS11
}
