package main

import (
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
