//go:build cgo && !nopkcs11

package keystorepkcs11_test

import (
	"encoding/json"
	"testing"

	keystorepkcs11 "github.com/pkid/pkid/plugins/keystore-pkcs11"
	"github.com/pkid/pkid/plugins/keystore-pkcs11/internal/softhsmtest"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

func TestPluginKit(t *testing.T) {
	tok := softhsmtest.New(t, testLabel)
	t.Setenv("PKID_TEST_PIN", tok.PIN) // ValidateConfig reads the PIN
	js := func(cfg map[string]any) json.RawMessage {
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	plugintest.TestPlugin(t, keystorepkcs11.New(), plugintest.PluginConfigs{
		Kind:  sdk.KindKeyStore,
		Valid: js(with(baseConfig(tok), "pin", nil, "allow_literal_pin", nil, "pin_env", "PKID_TEST_PIN")),
		Invalid: []plugintest.InvalidConfig{
			{Name: "no module", JSON: js(with(baseConfig(tok), "module", nil)), Path: []string{"module"}},
			{Name: "no PIN", JSON: js(with(baseConfig(tok), "pin", nil, "allow_literal_pin", nil)), Path: []string{"pin_file"}},
			{Name: "two PINs", JSON: js(with(baseConfig(tok), "pin_file", "/etc/pkid/pin")), Path: []string{"pin_file"}},
		},
	})
}
