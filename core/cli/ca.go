package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkid/pkid/core/audit"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/duration"
	"github.com/pkid/pkid/sdk"
)

func caInitCmd(e *env) *command {
	var cf configFlag
	return &command{
		synopsis: "Create a CA's key inside its keystore and its self-signed certificate",
		help: `
Usage: pkid ca init -config FILE -ca NAME [-algorithm ALG] [-cn CN | CSRJSON] [-csr-only]

  Generates the key named by the ca block inside its keystore (or reuses it
  when it exists), then writes the self-signed root certificate to the
  block's certificate path. The private key never leaves the keystore.
  With -csr-only it prints a CSR (for an intermediate signed elsewhere)
  instead of writing a certificate.
`,
		run: func(args []string) error {
			fs := newFlags("ca init")
			cf.register(fs)
			name := fs.String("ca", "", "the ca block `NAME`")
			alg := fs.String("algorithm", sdk.AlgECDSAP256, "key algorithm when the key is generated")
			cn := fs.String("cn", "", "common name (instead of a CSRJSON file)")
			csrOnly := fs.Bool("csr-only", false, "print a CSR instead of writing a self-signed certificate")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if *name == "" {
				return usagef("-ca NAME is required")
			}
			var req *csr.Request
			switch {
			case fs.NArg() == 1:
				var err error
				if req, err = loadCSRJSON(e, fs.Arg(0)); err != nil {
					return err
				}
			case fs.NArg() == 0 && *cn != "":
				req = &csr.Request{CN: *cn}
			default:
				return usagef("give -cn CN or one CSRJSON argument")
			}
			if *cn != "" {
				req.CN = *cn
			}
			s, err := cf.load(e, false)
			if err != nil {
				return err
			}
			defer s.Close()
			var block *config.CA
			for _, c := range s.Config.CAs {
				if c.Name == *name {
					block = c
				}
			}
			if block == nil {
				return fmt.Errorf("no ca block named %q in the configuration", *name)
			}
			if !*csrOnly {
				if block.Certificate == "" {
					return fmt.Errorf("ca %q has no certificate path; set certificate = \"PATH\"", *name)
				}
				if _, err := os.Stat(block.Certificate); err == nil {
					return fmt.Errorf("ca %q: %s already exists; refusing to overwrite a CA certificate", *name, block.Certificate)
				}
			}
			ctx := context.Background()
			a, err := openCLIAudit(s.Loaded, "ca init")
			if err != nil {
				return err
			}
			defer a.Close()
			ks := s.KeyStores[block.KeyStore]
			if _, err := ks.PublicKey(ctx, block.Key); errors.Is(err, sdk.ErrNotFound) {
				k, err := ks.GenerateKey(ctx, sdk.GenerateKeyRequest{ID: block.Key, Algorithm: *alg})
				if err != nil {
					return fmt.Errorf("ca %q: generating key %q in keystore %s: %w", *name, block.Key, block.KeyStore, err)
				}
				fmt.Fprintf(e.stderr, "Generated %s key %q inside keystore %s.\n", k.Algorithm, k.ID, block.KeyStore)
				if err := a.record(audit.KindKey, audit.KeyOperation{Operation: "generate", KeyStore: block.KeyStore, Key: k.ID, Algorithm: k.Algorithm, Requester: a.by()}); err != nil {
					return err
				}
			} else if err != nil {
				return fmt.Errorf("ca %q: keystore %s: %w", *name, block.KeyStore, err)
			} else {
				fmt.Fprintf(e.stderr, "Using the existing key %q in keystore %s.\n", block.Key, block.KeyStore)
			}
			signer, err := ca.KeyStoreSigner(ctx, ks, block.Key)
			if err != nil {
				return err
			}
			if *csrOnly {
				req.CA = &csr.CAConfig{}
				csrPEM, err := csr.Generate(req, signer)
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(csrPEM)
				return err
			}
			cert, _, err := ca.InitCA(ctx, ca.InitCARequest{Request: req, Signer: signer, MaxPathLen: s.Config.Pkid.Limits.WithDefaults().MaxPathLen})
			if err != nil {
				return fmt.Errorf("ca %q: %w", *name, err)
			}
			printWarnings(e, cert.Warnings)
			if err := writeFileAtomic(block.Certificate, cert.PEM(), 0o644); err != nil {
				return fmt.Errorf("ca %q: writing the certificate: %w", *name, err)
			}
			if err := a.record(audit.KindIssuance, audit.IssuanceOf(cert.Cert, *name, "ca init", a.by())); err != nil {
				return err
			}
			sum := sha256.Sum256(cert.DER)
			fmt.Fprintf(e.stdout, "Created CA %q\n  subject:     %s\n  not after:   %s\n  sha256:      %s\n  certificate: %s\n",
				*name, cert.Cert.Subject, cert.Cert.NotAfter.Format("2006-01-02"), fingerprint(sum[:]), block.Certificate)
			return nil
		},
	}
}

func fingerprint(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// writeFileAtomic writes data to path through a temporary file and a
// rename, creating parent directories, so a crash never leaves half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func caResponderCmd(e *env) *command {
	var cf configFlag
	return &command{
		synopsis: "Issue a delegated OCSP responder certificate, its key inside the CA's keystore",
		help: `
Usage: pkid ca ocsp-responder -config FILE -ca NAME [-key ID] [-out PATH] [-validity 30d] [-algorithm ALG]

  Generates (or reuses) the key ID (default NAME-ocsp) inside the CA's
  keystore and issues it a responder certificate from the CA: OCSP signing,
  id-pkix-ocsp-nocheck, short-lived. Writes it to PATH (default: the ca
  block's ocsp responder_certificate) and prints the ocsp block to use:

    ocsp {
      responder_key         = "ID"
      responder_certificate = "PATH"
    }

  Re-run before it expires: a new certificate for the same key.
`,
		run: func(args []string) error {
			fs := newFlags("ca ocsp-responder")
			cf.register(fs)
			name := fs.String("ca", "", "the ca block `NAME`")
			keyID := fs.String("key", "", "responder key `ID` in the CA's keystore (default NAME-ocsp)")
			out := fs.String("out", "", "certificate `PATH`")
			validity := fs.String("validity", "30d", "certificate lifetime")
			alg := fs.String("algorithm", sdk.AlgECDSAP256, "key algorithm when the key is generated")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if *name == "" || fs.NArg() > 0 {
				return usagef("-ca NAME is required, and no arguments")
			}
			d, err := duration.Parse(*validity)
			if err != nil || d <= 0 {
				return usagef("-validity: %q is not a positive duration", *validity)
			}
			s, err := cf.load(e, false)
			if err != nil {
				return err
			}
			defer s.Close()
			ctx := context.Background()
			set, diags := authority.BuildWith(ctx, s.Loaded, authority.Options{NoResponder: true})
			if diags.HasErrors() {
				return printDiags(e, s.Config, diags)
			}
			iss, err := set.Get(*name)
			if err != nil {
				return err
			}
			block := set.Blocks[*name]
			if *keyID == "" {
				*keyID = *name + "-ocsp"
				if block.OCSP != nil && block.OCSP.ResponderKey != "" {
					*keyID = block.OCSP.ResponderKey
				}
			}
			if *out == "" && block.OCSP != nil {
				*out = block.OCSP.ResponderCertificate
			}
			if *out == "" {
				return usagef("-out PATH is required (the ca block's ocsp block names no responder_certificate)")
			}
			ks := s.KeyStores[block.KeyStore]
			if _, err := ks.PublicKey(ctx, *keyID); errors.Is(err, sdk.ErrNotFound) {
				if _, err := ks.GenerateKey(ctx, sdk.GenerateKeyRequest{ID: *keyID, Algorithm: *alg}); err != nil {
					return fmt.Errorf("ca %q: generating key %q: %w", *name, *keyID, err)
				}
				fmt.Fprintf(e.stderr, "Generated key %q inside keystore %s.\n", *keyID, block.KeyStore)
			} else if err != nil {
				return fmt.Errorf("ca %q: keystore %s: %w", *name, block.KeyStore, err)
			}
			signer, err := ca.KeyStoreSigner(ctx, ks, *keyID)
			if err != nil {
				return err
			}
			csrPEM, err := csr.Generate(&csr.Request{CN: iss.Certificate().Subject.CommonName + " OCSP responder"}, signer)
			if err != nil {
				return err
			}
			cert, err := iss.SignOCSPResponder(ctx, csrPEM, d)
			if err != nil {
				return fmt.Errorf("ca %q: %w", *name, err)
			}
			if err := writeFileAtomic(*out, cert.PEM(), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Issued the OCSP responder certificate %s (not after %s).\nConfigure it in ca %q:\n  ocsp {\n    responder_key         = %q\n    responder_certificate = %q\n  }\n",
				*out, cert.Cert.NotAfter.Format("2006-01-02"), *name, *keyID, *out)
			return nil
		},
	}
}
