package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/pkid/pkid/sdk"
)

// keystoreCmd is `pkid keystore NAME VERB`: the generic verbs on a configured
// instance. `pkid keystore TYPE COMMAND` (plugin commands) is dispatched
// before it, by keystoreDispatch.
func keystoreCmd(e *env) *command {
	verbs := []string{"list", "generate", "public", "import"}
	return &command{
		synopsis: "Manage keys in a configured keystore; run keystore plugin commands",
		help: `
Usage: pkid keystore NAME COMMAND [flags] -config FILE
       pkid keystore TYPE COMMAND [args] [-config FILE]

  NAME is a keystore block's instance name in the configuration. TYPE is a
  keystore plugin type (builtin, or registered by a plugin block): its own
  commands run in the plugin, on its configured instances. Instance names
  are looked up first; an instance named like a plugin type is a
  configuration error. pkid keystore TYPE -help lists TYPE's commands.

Commands on an instance NAME:
  list                                  list the keys
  generate -id ID -algorithm ALG        generate a key inside the keystore
                                        (ALG: rsa-2048 rsa-3072 rsa-4096 ecdsa-p256
                                        ecdsa-p384 ecdsa-p521 ed25519; default ecdsa-p256)
  public -id ID                         print the public key (PEM)
  import -id ID -key FILE               import a PEM private key (e.g. CFSSL ca-key.pem)
`,
		run: func(args []string) error {
			name, verb, rest, err := splitNameVerb(args, verbs)
			if err != nil {
				return err
			}
			var cf configFlag
			fs := newFlags("keystore " + verb)
			cf.register(fs)
			id := fs.String("id", "", "key `ID`")
			alg := fs.String("algorithm", sdk.AlgECDSAP256, "key algorithm for generate")
			keyFile := fs.String("key", "", "PEM private key `FILE` for import")
			if err := parseFlagsNoArgs(fs, rest); err != nil {
				return err
			}
			if (verb == "public" || verb == "import") && *id == "" {
				return usagef("keystore %s needs -id", verb)
			}
			if verb == "import" && *keyFile == "" {
				return usagef("keystore import needs -key FILE")
			}
			s, err := cf.load(e, false)
			if err != nil {
				return err
			}
			defer s.Close()
			ks, ok := s.KeyStores[name]
			if !ok {
				return fmt.Errorf("no keystore named %q in the configuration", name)
			}
			ctx := context.Background()
			switch verb {
			case "list":
				keys, err := ks.ListKeys(ctx)
				if err != nil {
					return fmt.Errorf("keystore %s: %w", name, err)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tALGORITHM\tCREATED")
				for _, k := range keys {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", k.ID, k.Algorithm, k.CreatedAt.UTC().Format(time.RFC3339))
				}
				return tw.Flush()
			case "generate":
				k, err := ks.GenerateKey(ctx, sdk.GenerateKeyRequest{ID: *id, Algorithm: *alg})
				if err != nil {
					return fmt.Errorf("keystore %s: generate: %w", name, err)
				}
				fmt.Fprintf(e.stderr, "Generated %s key %q in keystore %s.\n", k.Algorithm, k.ID, name)
				return writePublic(e, k)
			case "public":
				k, err := ks.PublicKey(ctx, *id)
				if err != nil {
					return fmt.Errorf("keystore %s: %w", name, err)
				}
				return writePublic(e, k)
			case "import":
				// Whether the keystore can import is a property of its
				// instance (sdk.KeyImporter), known without a round trip.
				imp, ok := ks.(sdk.KeyImporter)
				if !ok {
					return fmt.Errorf("keystore %s cannot import keys; generate them in it instead", name)
				}
				data, err := os.ReadFile(*keyFile)
				if err != nil {
					return fmt.Errorf("keystore %s: import: %w", name, err)
				}
				k, err := imp.ImportKey(ctx, sdk.ImportKeyRequest{ID: *id, PEM: data})
				if err != nil {
					return fmt.Errorf("keystore %s: import: %w", name, err)
				}
				fmt.Fprintf(e.stderr, "Imported %s key %q into keystore %s.\n", k.Algorithm, k.ID, name)
				return writePublic(e, k)
			}
			return nil
		},
	}
}

func writePublic(e *env, k *sdk.KeyInfo) error {
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey)
	if err != nil {
		return err
	}
	return pem.Encode(e.stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
