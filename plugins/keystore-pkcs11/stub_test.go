//go:build nopkcs11 || !cgo

package keystorepkcs11_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	keystorepkcs11 "github.com/pkid/pkid/plugins/keystore-pkcs11"
	"github.com/pkid/pkid/sdk"
)

func TestStubExplains(t *testing.T) {
	js, _ := json.Marshal(map[string]any{"module": "/x.so", "token_label": "pkid", "pin_file": "/p"})
	_, err := keystorepkcs11.New().Configure(t.Context(), sdk.Config{Kind: sdk.KindKeyStore, Instance: "hsm", JSON: js})
	if !errors.Is(err, sdk.ErrUnimplemented) || !strings.Contains(err.Error(), "without -tags nopkcs11") {
		t.Fatalf("Configure = %v, want an explanation wrapping ErrUnimplemented", err)
	}
}
