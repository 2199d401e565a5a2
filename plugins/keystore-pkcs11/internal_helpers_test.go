//go:build cgo && !nopkcs11

package keystorepkcs11

import (
	"encoding/json"
	"testing"

	"github.com/pkid/pkid/plugins/keystore-pkcs11/internal/softhsmtest"
	"github.com/pkid/pkid/sdk"
)

// softhsmToken creates a fresh token and returns a configuration for it.
func softhsmToken(t *testing.T) sdk.Config {
	tok := softhsmtest.New(t, "pkid")
	js, _ := json.Marshal(map[string]any{"module": tok.Module, "token_label": tok.Label, "pin": tok.PIN, "allow_literal_pin": true})
	return sdk.Config{Kind: sdk.KindKeyStore, Instance: "hsm", JSON: js}
}
