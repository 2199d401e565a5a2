package cli

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/authority"
	coredaemon "github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/server/responder"
)

func ocspserveCmd(e *env) *command {
	var cf configFlag
	return &command{
		synopsis: "Run a standalone OCSP responder (read-only, store-backed)",
		help: `
Usage: pkid ocspserve -config FILE [-listen ADDR] [-path /] [-no-sign]
       pkid ocspserve -responses FILE -ca CA.pem [-ca CA2.pem ...] [-listen ADDR] [-path /]
       pkid ocspserve -db-config DBCONFIG [-listen ADDR] [-path /]

  Answers OCSP requests (RFC 6960, RFC 5019 GET and POST) for every CA of
  the configuration from its certstore: responses pre-signed by the daemon
  or by 'pkid ocsprefresh'. It never writes to the store. Unless -no-sign is
  given, it signs through the CAs' keystores what is not pre-signed (an
  unknown serial of one of its CAs, a nonce, a SHA-256 CertID), keeping
  those responses in memory only. Requests for other issuers get
  "unauthorized".

  With -responses it serves a CFSSL responses file (base64 DER responses
  separated by white space) for the given CA certificates, with no store.
  With -db-config it serves the responses stored in CFSSL's certdb (as
  cfssl ocsprefresh or pkid ocsprefresh -db-config wrote them), found by
  serial and issuer key hash as CFSSL does; it never signs
  (docs/cfssl-certdb.md).

  -listen defaults to 127.0.0.1:8888 (CFSSL's -address and -port work too).
`,
		run: func(args []string) error {
			fs := newFlags("ocspserve")
			cf.register(fs)
			listen := fs.String("listen", "", "listen `ADDR`")
			address := fs.String("address", "127.0.0.1", "listen address (CFSSL)")
			port := fs.String("port", "8888", "listen port (CFSSL)")
			mount := fs.String("path", "/", "URL `PATH` the responder answers under")
			responses := fs.String("responses", "", "CFSSL responses `FILE` instead of a store")
			dbConfig := fs.String("db-config", "", "serve the responses stored in CFSSL's certdb (db-config `FILE`)")
			noSign := fs.Bool("no-sign", false, "serve pre-signed responses only; never sign")
			var caFiles stringList
			fs.Var(&caFiles, "ca", "issuer certificate `PEM` for -responses (repeatable)")
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			if !strings.HasPrefix(*mount, "/") {
				return usagef("-path must start with /")
			}
			addr := *listen
			if addr == "" {
				addr = net.JoinHostPort(*address, *port)
			}
			log := hclog.New(&hclog.LoggerOptions{Name: "pkid-ocsp", Output: e.stderr, Level: logLevel("info")})
			ctx := context.Background()

			var src responder.Source
			switch {
			case *dbConfig != "":
				if *responses != "" || len(cf.paths) > 0 {
					return usagef("-db-config excludes -responses and -config")
				}
				store, done, err := openDBConfig(*dbConfig, true)
				if err != nil {
					return err
				}
				defer done()
				src = dbResponses{store: store}
			case *responses != "":
				if len(cf.paths) > 0 {
					return usagef("-responses and -config are exclusive")
				}
				if len(caFiles) == 0 {
					return usagef("-responses needs the issuer certificates: -ca CA.pem")
				}
				var issuers []*x509.Certificate
				for _, f := range caFiles {
					certs, err := authority.ReadCertificates(f)
					if err != nil {
						return err
					}
					issuers = append(issuers, certs...)
				}
				fsrc, err := responder.LoadResponsesFile(*responses, issuers...)
				if err != nil {
					return fmt.Errorf("ocspserve: %w", err)
				}
				fmt.Fprintf(e.stderr, "Loaded %d OCSP responses from %s\n", fsrc.Len(), *responses)
				src = fsrc
			default:
				s, err := cf.load(e, false)
				if err != nil {
					return err
				}
				defer s.Close()
				if src, err = coredaemon.StoreSource(ctx, s.Loaded, !*noSign, log); err != nil {
					return daemonError(e, s.Config, err)
				}
			}
			r, err := coredaemon.NewResponder(coredaemon.ResponderOptions{Listen: addr, Path: *mount, Source: src, Log: log})
			if err != nil {
				return err
			}
			defer r.Close()
			ctx, stop := signalContext()
			defer stop()
			fmt.Fprintf(e.stdout, "pkid %s OCSP responder listening on %s\n", Version, r.URL())
			return r.Run(ctx)
		},
	}
}
