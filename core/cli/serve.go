package cli

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	coredaemon "github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/devmode"
	"github.com/pkid/pkid/core/pluginhost"
)

func serveCmd(e *env) *command {
	var cf configFlag
	return &command{
		synopsis: "Run the CA daemon (cfssl-compatible HTTP API)",
		help: `
Usage: pkid serve -config FILE [-listen ADDR] [-tls-cert F -tls-key F] [-mutual-tls-ca F]
       pkid serve -dev [-state DIR] [-listen ADDR]

  Serves /api/v1/cfssl/* for every ca block (selected by the request's
  label; the first block is the default). Keys stay in their keystore
  plugins; every certificate is recorded in its certstore before the
  response is sent. SIGTERM or SIGINT stops accepting requests and lets
  in-flight ones finish.

  CFSSL's command line also works: any of cfssl serve's own flags (-ca,
  -ca-key, -address, -port, -db-config, ...) or -config naming a CFSSL JSON
  file runs it as cfssl serve would (docs/cfssl-dropin.md).

  -dev needs no files: it creates DIR (default $PKID_STATE_DIR or
  ./pkid-dev) with a passphrase, a configuration (file keystore and SQLite
  store, both as plugin processes), and a root and an issuing CA on first
  start; later starts reuse them.
`,
		run: func(args []string) error {
			// Before any plugin process starts: they inherit the daemon's
			// GC settings (README.md, Performance).
			pluginhost.TuneDaemonGC()
			if isCFSSLServe(args) {
				return runCFSSLServe(e, args) // servecompat.go
			}
			fs := newFlags("serve")
			cf.register(fs)
			dev := fs.Bool("dev", false, "development mode: no files needed")
			state := fs.String("state", "", "dev mode state `DIR`")
			var opts coredaemon.Options
			fs.StringVar(&opts.Listen, "listen", "", "listen `ADDR` (default the pkid block's listen, or 127.0.0.1:8888)")
			fs.StringVar(&opts.TLS.Cert, "tls-cert", "", "serving certificate (PEM)")
			fs.StringVar(&opts.TLS.Key, "tls-key", "", "serving key (PEM)")
			fs.StringVar(&opts.TLS.ClientCA, "mutual-tls-ca", "", "require client certificates issued by this CA (PEM)")
			fs.StringVar(&opts.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics on `ADDR` (default the pkid block's metrics_listen)")
			minTLS := fs.String("min-tls-version", "1.2", "minimum TLS version: 1.0, 1.1, 1.2 or 1.3")
			dbConfig := fs.String("db-config", "", "CFSSL certdb: refused, declare it in -config")
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			if *dbConfig != "" {
				// The daemon's CAs name their certstore in the configuration.
				return fmt.Errorf("-db-config: declare the CFSSL certdb in -config as certstore \"cfssl\" \"NAME\" { db_config = %q } and name it in the ca block (docs/cfssl-certdb.md)", *dbConfig)
			}
			tlsVersion, err := coredaemon.ParseTLSVersion(*minTLS)
			if err != nil {
				return usagef("-min-tls-version must be 1.0, 1.1, 1.2 or 1.3, not %q", *minTLS)
			}
			if tlsVersion < tls.VersionTLS12 {
				fmt.Fprintf(e.stderr, "pkid: warning: TLS %s is obsolete; use 1.2 or 1.3\n", *minTLS)
			}
			if flagSet(fs, "min-tls-version") || opts.TLS.Cert != "" {
				opts.TLS.MinVersion = tlsVersion // else the pkid block's min_version
			}
			if (opts.TLS.Cert == "") != (opts.TLS.Key == "") {
				return usagef("-tls-cert and -tls-key go together")
			}
			if opts.TLS.ClientCA != "" && opts.TLS.Cert == "" {
				return usagef("-mutual-tls-ca needs -tls-cert and -tls-key")
			}
			opts.Log = hclog.New(&hclog.LoggerOptions{Name: "pkid", Output: e.stderr, Level: logLevel("info")})
			if *dev {
				dir := cmp.Or(*state, os.Getenv("PKID_STATE_DIR"), "pkid-dev")
				path, err := devmode.Prepare(dir, cmp.Or(opts.Listen, coredaemon.DefaultListen), e.stdout)
				if err != nil {
					return err
				}
				cf.paths = stringList{path}
				opts.Dev = true
			}
			s, err := cf.load(e, false)
			if err != nil {
				return err
			}
			defer s.Close()
			if *dev {
				opts.Bootstrap = func(ctx context.Context, base string) error { return devmode.Bootstrap(ctx, s.Loaded, base, e.stdout) }
			}
			opts.Host = s.host
			d, err := coredaemon.New(context.Background(), s.Loaded, opts)
			if err != nil {
				return daemonError(e, s.Config, err)
			}
			defer d.Close()
			ctx, stop := signalContext() // before the banner: a client may signal once it reads it
			defer stop()
			printBanner(e, d, *dev, s.Config)
			return daemonError(e, s.Config, d.Run(ctx))
		},
	}
}
