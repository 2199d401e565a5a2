//go:build cgo && !nopkcs11

package keystorepkcs11_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/plugins/keystore-pkcs11/internal/softhsmtest"
)

// buildPkid builds the pkid binary into a temporary directory.
func buildPkid(tb testing.TB) string {
	tb.Helper()
	exe := filepath.Join(tb.TempDir(), "pkid")
	cmd := exec.Command("go", "build", "-o", exe, "../../cmd/pkid")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/pkid: %v\n%s", err, out)
	}
	return exe
}

// TestEnvironmentSwap issues with the same CA definition
// (examples/hcl/ca.hcl) on the file keystore of dev.hcl and on the PKCS#11
// token of prod-hsm.hcl, switching configuration files only, and has
// openssl verify both chains.
func TestEnvironmentSwap(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	tok := softhsmtest.New(t, "pkid-swap") // sets SOFTHSM2_CONF for pkid and its plugin
	pkid := buildPkid(t)
	examples, err := filepath.Abs("../../examples/hcl")
	if err != nil {
		t.Fatal(err)
	}
	leafJSON := `{"CN": "www.example.com", "hosts": ["www.example.com"], "key": {"algo": "ecdsa", "size": 256}}`

	for _, env := range []string{"dev", "prod-hsm"} {
		t.Run(env, func(t *testing.T) {
			state := t.TempDir()
			write := func(name, content string) string {
				p := filepath.Join(state, name)
				if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			write("passphrase", "swap test passphrase\n")
			pinFile := write("hsm-pin", tok.PIN+"\n")
			leaf := write("leaf.json", leafJSON)
			vars := append(os.Environ(), "PKID_CONFIG=", "PKID_STATE_DIR="+state,
				"PKID_PKCS11_MODULE="+tok.Module, "PKID_HSM_TOKEN="+tok.Label, "PKID_HSM_PIN_FILE="+pinFile)
			run := func(args ...string) string {
				t.Helper()
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(pkid, args...)
				cmd.Env, cmd.Stdout, cmd.Stderr = vars, &stdout, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("pkid %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
				}
				return stdout.String()
			}
			// Only the second file differs between the environments.
			cfg := []string{"-config", filepath.Join(examples, "ca.hcl"), "-config", filepath.Join(examples, env+".hcl")}
			// withCfg puts the -config flags after the command words.
			withCfg := func(words []string, args ...string) []string {
				return append(append(append([]string{}, words...), cfg...), args...)
			}

			run(withCfg([]string{"ca", "init"}, "-ca", "issuing", "-cn", "pkid swap test CA ("+env+")")...)
			var res map[string]string
			if err := json.Unmarshal([]byte(run(withCfg([]string{"gencert"}, "-label", "issuing", "-profile", "server", leaf)...)), &res); err != nil || res["cert"] == "" {
				t.Fatalf("gencert output: %v %v", err, res)
			}
			leafPEM := write("leaf.pem", res["cert"])
			caPEM := filepath.Join(state, "ca", "issuing.pem")
			if out, err := exec.Command(openssl, "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", caPEM, leafPEM).CombinedOutput(); err != nil {
				t.Fatalf("openssl verify: %v\n%s", err, out)
			}

			// The CA key is where the keystore block says: encrypted in the
			// state directory, or on the token.
			_, statErr := os.Stat(filepath.Join(state, "keys"))
			if (env == "dev") != (statErr == nil) {
				t.Errorf("%s: key directory in the state directory: %v", env, statErr)
			}
			if env == "prod-hsm" {
				// The plugin's own commands see the configured instance.
				if out := run(withCfg([]string{"keystore", "pkcs11", "list"})...); !regexp.MustCompile(`(?m)^issuing\tecdsa-p256\tpkcs11:`).MatchString(out) {
					t.Errorf("keystore pkcs11 list: %q", out)
				}
				if out := run(withCfg([]string{"keystore", "pkcs11", "test-sign"}, "issuing")...); !strings.Contains(out, "issuing\tecdsa-p256\tok\t") {
					t.Errorf("keystore pkcs11 test-sign: %q", out)
				}
				if out := run(withCfg([]string{"keystore", "ca", "list"})...); !regexp.MustCompile(`(?m)^issuing\s+ecdsa-p256\s`).MatchString(out) {
					t.Errorf("keystore ca list: %q", out)
				}
			}
		})
	}
}

// Startup errors through the real CLI: one clear error each, naming the
// keystore block with its file:line:col.
func TestStartupErrorsNameTheBlock(t *testing.T) {
	tok := softhsmtest.New(t, "pkid-errors")
	pkid := buildPkid(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "pin")
	bad := filepath.Join(dir, "wrong-pin")
	os.WriteFile(good, []byte(tok.PIN+"\n"), 0o600)
	os.WriteFile(bad, []byte("not-the-pin\n"), 0o600)
	for _, tc := range []struct {
		name, module, label, pinFile string
		args                         []string
		want                         string
	}{
		{"wrong PIN", tok.Module, tok.Label, bad, []string{"keystore", "hsm", "list"}, `wrong PIN for token "pkid-errors"`},
		{"unknown token", tok.Module, "nope", good, []string{"keystore", "hsm", "list"}, `no token "nope"`},
		{"missing module", "/nonexistent/libpkcs11.so", tok.Label, good, []string{"validate"}, `cannot load module "/nonexistent/libpkcs11.so"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "pkid.hcl")
			os.WriteFile(cfg, []byte(fmt.Sprintf("keystore \"pkcs11\" \"hsm\" {\n  module      = %q\n  token_label = %q\n  pin_file    = %q\n}\n", tc.module, tc.label, tc.pinFile)), 0o600)
			cmd := exec.Command(pkid, append(tc.args, "-config", cfg)...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("succeeded: %s", out)
			}
			if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), `keystore "pkcs11" "hsm"`) || !strings.Contains(string(out), "pkid.hcl:") {
				t.Errorf("want one error naming %q and the block; got:\n%s", tc.want, out)
			}
			if strings.Contains(string(out), tok.PIN) || strings.Contains(string(out), "not-the-pin") {
				t.Error("the PIN leaked into the error")
			}
		})
	}
}

// pin = env(...) works through the real CLI (the PIN never appears in the
// file); a PIN written literally is refused unless allow_literal_pin.
func TestPINFromEnvNotLiteral(t *testing.T) {
	tok := softhsmtest.New(t, "pkid-pin")
	pkid := buildPkid(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pkid.hcl")
	run := func(pin string) (string, error) {
		os.WriteFile(cfg, []byte(fmt.Sprintf("keystore \"pkcs11\" \"hsm\" {\n  module      = %q\n  token_label = %q\n  pin         = %s\n}\n", tok.Module, tok.Label, pin)), 0o600)
		cmd := exec.Command(pkid, "keystore", "hsm", "list", "-config", cfg)
		cmd.Env = append(os.Environ(), "PKID_HSM_PIN="+tok.PIN)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(`env("PKID_HSM_PIN")`); err != nil {
		t.Fatalf("pin = env(): %v\n%s", err, out)
	}
	out, err := run(fmt.Sprintf("%q", tok.PIN))
	if err == nil || !strings.Contains(out, "literal PIN not allowed") || !strings.Contains(out, `keystore "pkcs11" "hsm"`) {
		t.Fatalf("literal pin: want a refusal naming the block; got %v\n%s", err, out)
	}
}
