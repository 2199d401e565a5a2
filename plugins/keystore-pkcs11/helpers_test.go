//go:build cgo && !nopkcs11

package keystorepkcs11_test

import (
	"context"
	"encoding/json"
	"maps"
	"testing"

	keystorepkcs11 "github.com/pkid/pkid/plugins/keystore-pkcs11"
	"github.com/pkid/pkid/plugins/keystore-pkcs11/internal/softhsmtest"
	"github.com/pkid/pkid/sdk"
)

const testLabel = "pkid"

// baseConfig is a configuration for tok using a literal PIN.
func baseConfig(tok *softhsmtest.Token) map[string]any {
	return map[string]any{
		"module": tok.Module, "token_label": tok.Label,
		"pin": tok.PIN, "allow_literal_pin": true,
	}
}

func with(cfg map[string]any, kv ...any) map[string]any {
	out := maps.Clone(cfg)
	for n := 0; n < len(kv); n += 2 {
		if kv[n+1] == nil {
			delete(out, kv[n].(string))
			continue
		}
		out[kv[n].(string)] = kv[n+1]
	}
	return out
}

// literalSecrets is a key of the test maps that becomes
// sdk.Config.LiteralSecrets rather than part of the block.
const literalSecrets = "test: literal secrets"

// keystoreConfig turns a test map into the configuration of instance name.
func keystoreConfig(name string, cfg map[string]any) sdk.Config {
	lits, _ := cfg[literalSecrets].([]string)
	cfg = with(cfg, literalSecrets, nil)
	js, err := json.Marshal(cfg)
	if err != nil {
		panic(err)
	}
	return sdk.Config{Kind: sdk.KindKeyStore, Instance: name, JSON: js, LiteralSecrets: lits}
}

func configure(p sdk.Plugin, name string, cfg map[string]any) (sdk.Instance, error) {
	return p.Configure(context.Background(), keystoreConfig(name, cfg))
}

// newStore creates a fresh token and an in-process instance on it.
func newStore(t testing.TB) (*keystorepkcs11.Instance, *softhsmtest.Token) {
	t.Helper()
	tok := softhsmtest.New(t, testLabel)
	inst, err := configure(keystorepkcs11.New(), "hsm", baseConfig(tok))
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	return inst.(*keystorepkcs11.Instance), tok
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
