//go:build cgo && !nopkcs11

package keystorepkcs11_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	keystorepkcs11 "github.com/pkid/pkid/plugins/keystore-pkcs11"
	"github.com/pkid/pkid/plugins/keystore-pkcs11/internal/softhsmtest"
	"github.com/pkid/pkid/sdk"
)

// TestStartupErrors checks that each misconfiguration is one clear error.
func TestStartupErrors(t *testing.T) {
	tok := softhsmtest.New(t, testLabel)
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(tok.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := with(baseConfig(tok), "pin", nil, "allow_literal_pin", nil, "pin_file", pinFile)
	cases := []struct {
		name     string
		cfg      map[string]any
		sentinel error
		want     string
	}{
		{"wrong PIN", with(baseConfig(tok), "pin", "0000"), sdk.ErrUnauthenticated, `keystore-pkcs11: wrong PIN for token "pkid"`},
		{"missing module", with(base, "module", "/nonexistent/libx.so"), sdk.ErrUnimplemented, `keystore-pkcs11: cannot load module "/nonexistent/libx.so"`},
		{"not a module", with(base, "module", pinFile), sdk.ErrUnimplemented, `keystore-pkcs11: cannot load module "` + pinFile + `"`},
		{"unknown token", with(base, "token_label", "nope"), sdk.ErrNotFound, `no token "nope"`},
		{"unknown serial", with(base, "token_label", nil, "token_serial", "0000"), sdk.ErrNotFound, `available tokens: "pkid"`},
		{"unsupported mechanism", with(base, "algorithms", []string{"ecdsa-p256"}), nil, ""},
		{"literal PIN refused", with(baseConfig(tok), "allow_literal_pin", nil, literalSecrets, []string{"pin"}), nil, "literal PIN not allowed"},
		{"PIN from env() accepted", with(baseConfig(tok), "allow_literal_pin", nil), nil, ""},
		{"two tokens", with(base, "slot", 0), nil, "conflicting token options"},
		{"unset pin_env", with(base, "pin_file", nil, "pin_env", "PKID_TEST_UNSET_PIN"), sdk.ErrInvalidArgument, "PKID_TEST_UNSET_PIN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inst, err := configure(keystorepkcs11.New(), "hsm", c.cfg)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Configure: %v", err)
				}
				_ = inst.Close()
				return
			}
			if err == nil {
				_ = inst.Close()
				t.Fatal("Configure succeeded")
			}
			if c.sentinel != nil && !errors.Is(err, c.sentinel) {
				t.Errorf("error %v does not wrap %v", err, c.sentinel)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), tok.PIN) {
				t.Errorf("error %q contains the PIN", err)
			}
		})
	}
	// The working configuration, by PIN file, env, slot and serial.
	t.Setenv("PKID_TEST_HSM_PIN", tok.PIN)
	var out strings.Builder
	if _, err := keystorepkcs11.New().(sdk.Commander).RunCommand(t.Context(), sdk.CommandRequest{Name: "slots", Args: []string{"-module", tok.Module}, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	f := strings.Split(strings.Split(out.String(), "\n")[0], "\t") // slot, label, serial, ...
	slot, err := strconv.Atoi(f[0])
	if err != nil || len(f) < 3 {
		t.Fatalf("slots: %q", out.String())
	}
	for _, cfg := range []map[string]any{base, with(base, "pin_file", nil, "pin_env", "PKID_TEST_HSM_PIN"),
		with(base, "token_label", nil, "slot", slot), with(base, "token_label", nil, "token_serial", f[2])} {
		inst, err := configure(keystorepkcs11.New(), "hsm", cfg)
		if err != nil {
			t.Fatalf("Configure(%v): %v", cfg, err)
		}
		_ = inst.Close()
	}
}

// TestValidateConfig checks the checks that need no module.
func TestValidateConfig(t *testing.T) {
	mod := softhsmtest.Module(t)
	p := keystorepkcs11.New()
	validate := func(cfg map[string]any) sdk.Diagnostics {
		return p.ValidateConfig(t.Context(), keystoreConfig("hsm", cfg))
	}
	t.Setenv("PKID_TEST_HSM_PIN", "s3cr3t-pin")
	if d := validate(map[string]any{"module": mod, "token_label": "pkid", "pin_env": "PKID_TEST_HSM_PIN"}); d.HasErrors() {
		t.Fatalf("valid config: %v", d.Err())
	}
	for _, c := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"token_label": "pkid", "pin_env": "X"}, "missing PKCS#11 module"},
		{map[string]any{"module": "/nonexistent.so", "token_label": "pkid", "pin_env": "PKID_TEST_HSM_PIN"}, `cannot load module "/nonexistent.so"`},
		{map[string]any{"module": mod, "pin_env": "PKID_TEST_HSM_PIN"}, "missing token"},
		{map[string]any{"module": mod, "token_label": "pkid"}, "missing PIN"},
		{map[string]any{"module": mod, "token_label": "pkid", "pin": "1234", literalSecrets: []string{"pin"}}, "literal PIN not allowed"},
		{map[string]any{"module": mod, "token_label": "pkid", "pin_env": "PKID_TEST_HSM_PIN", "max_sessions": 0}, "invalid max_sessions"},
		{map[string]any{"module": mod, "token_label": "pkid", "pin_env": "PKID_TEST_HSM_PIN", "algorithms": []string{"dsa"}}, "unknown key algorithm"},
	} {
		d := validate(c.cfg)
		if !d.HasErrors() || !strings.Contains(d.Err().Error(), c.want) {
			t.Errorf("ValidateConfig(%v) = %v, want an error containing %q", c.cfg, d.Err(), c.want)
		}
	}
}

// TestEd25519Unsupported checks the error on a token without EdDSA.
func TestEd25519Unsupported(t *testing.T) {
	ks, _ := newStore(t)
	ks.DropEd25519ForTest()
	_, err := ks.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: "ed", Algorithm: sdk.AlgEd25519})
	if !errors.Is(err, sdk.ErrUnimplemented) || !strings.Contains(err.Error(), "CKM_EC_EDWARDS_KEY_PAIR_GEN") {
		t.Fatalf("GenerateKey(ed25519) = %v, want ErrUnimplemented naming CKM_EC_EDWARDS_KEY_PAIR_GEN", err)
	}
}
