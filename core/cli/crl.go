package cli

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/duration"
)

func crlCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Generate a CA's CRL from its certificate store",
		help: `
Usage: pkid crl -config pkid.hcl [-label CA] [-expiry 168h]

  Prints the CA's full CRL as base64 DER and a newline (CFSSL's shape): its
  revoked, unexpired certificates with revocation time and reason, signed
  through the CA's keystore.
`,
		run: func(args []string) error {
			fs := newFlags("crl")
			cf.register(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() > 0 {
				return usagef("unexpected arguments: %v", fs.Args())
			}
			validity := "168h"
			if f := fs.Lookup("expiry"); f != nil && f.Value.String() != "" {
				validity = f.Value.String()
			}
			d, err := duration.Parse(validity)
			if err != nil {
				return usagef("-expiry: %v", err)
			}
			iss, done, err := issuerFor(e, &cf)
			if err != nil {
				return err
			}
			defer done()
			der, err := iss.CRL(context.Background(), ca.CRLRequest{Validity: d})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(e.stdout, base64.StdEncoding.EncodeToString(der))
			return err
		},
	}
}
