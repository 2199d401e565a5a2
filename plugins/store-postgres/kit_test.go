package storepostgres

import (
	"encoding/json"
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// TestPluginKit needs no cluster: the kit validates configurations and
// configures only bad ones.
func TestPluginKit(t *testing.T) {
	plugintest.TestPlugin(t, New(), plugintest.PluginConfigs{
		Kind:  sdk.KindCertStore,
		Valid: json.RawMessage(`{"dsn":"postgres://pkid@db.example.test/pkid","max_conns":4,"connect_timeout":"5s"}`),
		Invalid: []plugintest.InvalidConfig{
			{Name: "no dsn", JSON: json.RawMessage(`{"dsn":"","max_conns":null,"connect_timeout":null}`), Path: []string{"dsn"}},
			{Name: "bad dsn", JSON: json.RawMessage(`{"dsn":"postgres://h:notaport/db","max_conns":null,"connect_timeout":null}`), Path: []string{"dsn"}},
			{Name: "max_conns 1", JSON: json.RawMessage(`{"dsn":"postgres://h/db","max_conns":1,"connect_timeout":null}`), Path: []string{"max_conns"}},
			{Name: "connect_timeout 0", JSON: json.RawMessage(`{"dsn":"postgres://h/db","max_conns":null,"connect_timeout":"0s"}`), Path: []string{"connect_timeout"}},
		},
	})
}
