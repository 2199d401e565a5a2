//go:build cgo && !nopkcs11

package keystorepkcs11_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	keystorepkcs11 "github.com/pkid/pkid/plugins/keystore-pkcs11"
	"github.com/pkid/pkid/plugins/keystore-pkcs11/internal/softhsmtest"
	"github.com/pkid/pkid/sdk"
)

func TestCommands(t *testing.T) {
	tok := softhsmtest.New(t, testLabel)
	p := keystorepkcs11.New()
	cmd := p.(sdk.Commander)
	run := func(name string, args ...string) (string, int, error) {
		var out, errOut bytes.Buffer
		code, err := cmd.RunCommand(t.Context(), sdk.CommandRequest{Kind: sdk.KindKeyStore, Name: name, Args: args,
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
		return out.String(), code, err
	}
	names := map[string]bool{}
	for _, c := range cmd.Commands() {
		names[c.Name] = true
	}
	for _, n := range []string{"slots", "list", "generate", "public", "test-sign"} {
		if !names[n] {
			t.Errorf("Commands lacks %q", n)
		}
	}

	// Without an instance: slots works with -module, the others explain.
	out, code, err := run("slots", "-module", tok.Module)
	if err != nil || code != 0 || !strings.Contains(out, "\tpkid\t") {
		t.Fatalf("slots -module: %q, %d, %v", out, code, err)
	}
	if _, code, err := run("list"); code == 0 || !errors.Is(err, sdk.ErrFailedPrecondition) {
		t.Fatalf("list without an instance: %d, %v", code, err)
	}

	inst, err := configure(p, "hsm", baseConfig(tok))
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()

	if out, _, err = run("slots"); err != nil || !strings.Contains(out, "\tpkid\t") {
		t.Fatalf("slots: %q, %v", out, err)
	}
	for _, alg := range []string{sdk.AlgECDSAP256, sdk.AlgRSA2048, sdk.AlgEd25519} {
		out, code, err := run("generate", "cmd-"+alg, alg)
		want := "cmd-" + alg + "\t" + alg + "\tpkcs11:token=pkid;object=cmd-" + alg
		if err != nil || code != 0 || !strings.HasPrefix(out, want) {
			t.Fatalf("generate %s: %q, %d, %v; want prefix %q", alg, out, code, err, want)
		}
		out, _, err = run("test-sign", "-keystore", "hsm", "cmd-"+alg)
		if err != nil || !strings.HasPrefix(out, "cmd-"+alg+"\t"+alg+"\tok\t") {
			t.Fatalf("test-sign %s: %q, %v", alg, out, err)
		}
		out, _, err = run("public", "cmd-"+alg)
		b, _ := pem.Decode([]byte(out))
		if err != nil || b == nil || b.Type != "PUBLIC KEY" {
			t.Fatalf("public %s: %q, %v", alg, out, err)
		}
		if _, err := x509.ParsePKIXPublicKey(b.Bytes); err != nil {
			t.Fatalf("public %s: %v", alg, err)
		}
	}
	// Keys may be named by URI.
	if out, _, err = run("test-sign", "pkcs11:token=pkid;object=cmd-ecdsa-p256;type=private"); err != nil || !strings.Contains(out, "\tok\t") {
		t.Fatalf("test-sign by URI: %q, %v", out, err)
	}
	out, _, err = run("list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "cmd-ecdsa-p256\tecdsa-p256\tpkcs11:") {
		t.Fatalf("list: %q", out)
	}
	if _, code, err := run("generate", "x"); code != 2 || err == nil {
		t.Errorf("generate with one argument: %d, %v", code, err)
	}
	if _, code, err := run("public", "-keystore", "other", "x"); code != 1 || !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("public -keystore other: %d, %v", code, err)
	}
}
