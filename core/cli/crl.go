package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/duration"
)

func crlCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Generate a CA's CRL from its certificate store",
		help: `
Usage: pkid crl -config pkid.hcl [-label CA] [-expiry 168h] [-out FILE]
                [-idp URL] [-delta-base NUMBER -delta-since RFC3339]
       pkid crl -db-config DBCONFIG -ca CERT -ca-key KEY [-label CA] [-expiry 168h]

  Prints the CA's full CRL as base64 DER and a newline (CFSSL's shape): its
  revoked, unexpired certificates with revocation time and reason, signed
  through the CA's keystore.

  -db-config F   read the revoked certificates from CFSSL's certdb
                 (docs/cfssl-certdb.md), every one when -label is not given
  -out FILE      write the DER CRL to FILE instead (streamed, for large
                 CRLs; replaced atomically); a summary goes to stderr
  -idp URL       write a critical issuing distribution point naming URL
                 (use the same one for a full CRL and its deltas)
  -delta-base N  make a delta CRL against the full CRL numbered N, listing
  -delta-since T the certificates revoked at or after T (RFC 3339, e.g. the
                 base CRL's thisUpdate); both or neither
`,
		run: func(args []string) error {
			fs := newFlags("crl")
			expiry := fs.String("expiry", "168h", "time to nextUpdate (Go duration or days)")
			out := fs.String("out", "", "write the DER CRL to `FILE`")
			idp := fs.String("idp", "", "issuing distribution point `URL`")
			deltaBase := fs.String("delta-base", "", "make a delta CRL against the full CRL `NUMBER`")
			deltaSince := fs.String("delta-since", "", "delta CRL: list revocations since `RFC3339` time")
			cf.register(fs)
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			validity := *expiry
			if validity == "" {
				validity = "168h"
			}
			d, err := duration.Parse(validity)
			if err != nil {
				return usagef("-expiry: %v", err)
			}
			req := ca.CRLRequest{Validity: d, DistributionPoint: *idp}
			switch {
			case *deltaBase != "" && *deltaSince != "":
				n, ok := new(big.Int).SetString(*deltaBase, 10)
				if !ok || n.Sign() < 0 {
					return fmt.Errorf("-delta-base %q: want a decimal CRL number", *deltaBase)
				}
				since, err := time.Parse(time.RFC3339, *deltaSince)
				if err != nil {
					return fmt.Errorf("-delta-since %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", *deltaSince)
				}
				req.DeltaBase, req.DeltaSince = n, since
			case *deltaBase != "" || *deltaSince != "":
				return errors.New("a delta CRL needs both -delta-base and -delta-since")
			}
			iss, done, err := issuerFor(e, &cf)
			if err != nil {
				return err
			}
			defer done()
			if *out != "" {
				return writeCRLFile(e, iss, req, *out)
			}
			der, err := iss.CRL(context.Background(), req)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(e.stdout, base64.StdEncoding.EncodeToString(der))
			return err
		},
	}
}

// writeCRLFile streams the CRL into a temporary file next to path and
// renames it into place.
func writeCRLFile(e *env, iss *ca.Issuer, req ca.CRLRequest, path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if req.TempDir == "" {
		req.TempDir = filepath.Dir(path)
	}
	info, err := iss.WriteCRL(context.Background(), f, req)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote CRL number %s to %s: %d entries, %d bytes, next update %s\n",
		info.Number, path, info.Entries, info.Bytes, info.NextUpdate.UTC().Format(time.RFC3339))
	return nil
}
