//go:build cgo && !nopkcs11

package keystorepkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/pkid/pkid/sdk"
)

// RunCommand runs one of Commands on a configured instance (named by
// -keystore, or the only one). Output is tab-separated text on Stdout;
// errors go to the returned error and the exit code is 1 (2 for usage).
func (p *plugin) RunCommand(ctx context.Context, req sdk.CommandRequest) (int, error) {
	fs := flag.NewFlagSet(req.Name, flag.ContinueOnError)
	fs.SetOutput(discardOr(req.Stderr))
	name := fs.String("keystore", "", "pkcs11 keystore instance")
	modPath := fs.String("module", "", "PKCS#11 module (slots only)")
	if err := fs.Parse(req.Args); err != nil {
		return 2, fmt.Errorf("keystore-pkcs11 %s: %w", req.Name, err)
	}
	args := fs.Args()
	want := map[string]int{"slots": 0, "list": 0, "generate": 2, "public": 1, "test-sign": 1}
	n, ok := want[req.Name]
	if !ok {
		return 2, fmt.Errorf("keystore-pkcs11: unknown command %q: %w", req.Name, sdk.ErrInvalidArgument)
	}
	if len(args) != n {
		return 2, fmt.Errorf("keystore-pkcs11 %s: want %d arguments, got %d: %w", req.Name, n, len(args), sdk.ErrInvalidArgument)
	}
	if req.Name == "slots" && *modPath != "" {
		return exit(cmdSlotsModule(req.Stdout, *modPath))
	}
	inst, err := p.reg.lookup(*name)
	if err != nil {
		return 1, err
	}
	switch req.Name {
	case "slots":
		return exit(printSlots(req.Stdout, inst.mod))
	case "list":
		keys, err := inst.ListKeys(ctx)
		if err != nil {
			return 1, err
		}
		for _, k := range keys {
			fmt.Fprintf(req.Stdout, "%s\t%s\t%s\n", k.ID, k.Algorithm, k.Attributes["uri"])
		}
	case "generate":
		k, err := inst.GenerateKey(ctx, sdk.GenerateKeyRequest{ID: args[0], Algorithm: args[1]})
		if err != nil {
			return 1, err
		}
		fmt.Fprintf(req.Stdout, "%s\t%s\t%s\n", k.ID, k.Algorithm, k.Attributes["uri"])
	case "public":
		k, err := inst.PublicKey(ctx, args[0])
		if err != nil {
			return 1, err
		}
		der, err := x509.MarshalPKIXPublicKey(k.PublicKey)
		if err != nil {
			return 1, fmt.Errorf("keystore-pkcs11: encoding public key: %w", err)
		}
		return exit(pem.Encode(req.Stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	case "test-sign":
		return exit(testSign(ctx, req.Stdout, inst, args[0]))
	}
	return 0, nil
}

func exit(err error) (int, error) {
	if err != nil {
		return 1, err
	}
	return 0, nil
}

func discardOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func cmdSlotsModule(w io.Writer, path string) error {
	m, err := loadModule(path)
	if err != nil {
		return err
	}
	defer m.release()
	return printSlots(w, m)
}

func printSlots(w io.Writer, m *module) error {
	toks, err := m.tokens()
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.Info.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", t.Slot, t.Info.Label, t.Info.SerialNumber, t.Info.ManufacturerID, t.Info.Model)
	}
	return nil
}

// testSign signs a fixed digest (or message, for Ed25519) and verifies the
// signature with the key's public key.
func testSign(ctx context.Context, w io.Writer, inst *Instance, id string) error {
	k, err := inst.PublicKey(ctx, id)
	if err != nil {
		return err
	}
	msg := []byte("pkid keystore-pkcs11 test-sign")
	req := sdk.SignRequest{KeyID: id, Digest: msg}
	if _, ok := k.PublicKey.(ed25519.PublicKey); !ok {
		d := sha256.Sum256(msg)
		req.Digest, req.Hash = d[:], crypto.SHA256
	}
	start := time.Now()
	sig, err := inst.Sign(ctx, req)
	if err != nil {
		return err
	}
	took := time.Since(start)
	if !verify(k.PublicKey, req, sig) {
		return fmt.Errorf("keystore-pkcs11: test signature with %q does not verify", id)
	}
	fmt.Fprintf(w, "%s\t%s\tok\t%s\n", k.ID, k.Algorithm, took.Round(time.Microsecond))
	return nil
}

// verify checks a test-sign signature (PKCS #1 v1.5, DER ECDSA, Ed25519).
func verify(pub crypto.PublicKey, req sdk.SignRequest, sig []byte) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, req.Hash, req.Digest, sig) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, req.Digest, sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, req.Digest, sig)
	}
	return false
}
