package keystorefile

import (
	"regexp"

	"github.com/pkid/pkid/sdk"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// validID reports whether id is a safe file-name stem (no separators, no
// leading dot).
func validID(id string) bool { return idPattern.MatchString(id) }

// supportedAlgorithm reports whether sdk.GenerateKey accepts alg; checked
// before the id so that a bad algorithm is refused as such.
func supportedAlgorithm(alg string) bool {
	switch alg {
	case sdk.AlgRSA2048, sdk.AlgRSA3072, sdk.AlgRSA4096,
		sdk.AlgECDSAP256, sdk.AlgECDSAP384, sdk.AlgECDSAP521, sdk.AlgEd25519:
		return true
	}
	return false
}
