package keystorefile_test

import (
	"encoding/json"
	"testing"

	keystorefile "github.com/pkid/pkid/plugins/keystore-file"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

func TestPluginKit(t *testing.T) {
	cfg := func(s string) json.RawMessage { return json.RawMessage(s) }
	plugintest.TestPlugin(t, keystorefile.New(), plugintest.PluginConfigs{
		Kind:  sdk.KindKeyStore,
		Valid: cfg(`{"dir":"/var/lib/pkid/keys","passphrase":null,"passphrase_file":"/etc/pkid/pass","kdf_work_factor":null}`),
		Invalid: []plugintest.InvalidConfig{
			{Name: "no dir", JSON: cfg(`{"dir":null,"passphrase":"p","passphrase_file":null}`), Path: []string{"dir"}},
			{Name: "two passphrases", JSON: cfg(`{"dir":"k","passphrase":"p","passphrase_file":"f"}`), Path: []string{"passphrase_file"}},
			{Name: "no passphrase", JSON: cfg(`{"dir":"k","passphrase":null,"passphrase_file":null}`), Path: []string{"passphrase"}},
			{Name: "work factor 30", JSON: cfg(`{"dir":"k","passphrase":"p","passphrase_file":null,"kdf_work_factor":30}`), Path: []string{"kdf_work_factor"}},
		},
	})
}
