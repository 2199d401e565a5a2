package cli

import (
	"encoding/json"
	"fmt"
)

func infoCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Print a CA's certificate and a profile's usages and expiry",
		help: `
Usage: pkid info -ca CERT -ca-key KEY [-config FILE] [-profile P]
       pkid info -config pkid.hcl -label CA [-profile P]
       pkid info -remote HOST:PORT [-label CA] [-profile P]

  Prints {"certificate","expiry","usages"} as CFSSL's info does: the CA
  certificate PEM (without its trailing newline), the profile's usages as
  configured and its expiry. -config takes a CFSSL JSON signing
  configuration (CFSSL's built-in default without it); an unknown
  -profile is an error.
`,
		run: func(args []string) error {
			fs := newFlags("info")
			cf.register(fs)
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			if useRemote(&cf) {
				return remoteInfo(e, fs, &cf)
			}
			iss, done, err := issuerFor(e, &cf)
			if err != nil {
				return err
			}
			defer done()
			p, err := iss.Profiles().Lookup(cf.profile)
			if err != nil {
				return err
			}
			info := iss.InfoFor(p)
			out := struct {
				Certificate string   `json:"certificate"`
				Expiry      string   `json:"expiry"`
				Usages      []string `json:"usages"`
			}{Certificate: info.CertificatePEM, Expiry: info.Expiry, Usages: info.Usages}
			b, err := json.Marshal(out)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", b)
			return err
		},
	}
}
