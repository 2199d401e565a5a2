package main

import (
	"encoding/json"
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

func TestConformanceInProcess(t *testing.T) {
	plugintest.TestKeyStore(t, func(t *testing.T) sdk.KeyStore {
		inst, err := New().Configure(t.Context(), sdk.Config{Kind: sdk.KindKeyStore, Instance: "t", JSON: []byte(`{"max_keys":null}`)})
		if err != nil {
			t.Fatal(err)
		}
		return inst.(sdk.KeyStore)
	})
}

func TestConformanceGRPC(t *testing.T) {
	c := plugintest.ServeGRPC(t, New())
	n := 0
	plugintest.TestKeyStore(t, func(t *testing.T) sdk.KeyStore {
		n++
		name := "inst" + string(rune('a'+n))
		plugintest.Configure(t, c, sdk.KindKeyStore, name, map[string]any{"max_keys": nil})
		return c.KeyStore(name)
	})
}

func TestPluginKit(t *testing.T) {
	plugintest.TestPlugin(t, New(), plugintest.PluginConfigs{
		Kind:  sdk.KindKeyStore,
		Valid: json.RawMessage(`{"max_keys":5}`),
		Invalid: []plugintest.InvalidConfig{
			{Name: "max_keys 0", JSON: json.RawMessage(`{"max_keys":0}`), Path: []string{"max_keys"}},
			{Name: "max_keys -3", JSON: json.RawMessage(`{"max_keys":-3}`), Path: []string{"max_keys"}},
		},
	})
}
