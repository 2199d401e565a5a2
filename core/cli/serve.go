package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/devmode"
	"github.com/pkid/pkid/core/jobs"
	"github.com/pkid/pkid/core/server"
	"github.com/pkid/pkid/sdk"
)

// Server timeouts (DD-5): CFSSL has none.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	shutdownGrace     = 30 * time.Second
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

  -dev needs no files: it creates DIR (default $PKID_STATE_DIR or
  ./pkid-dev) with a passphrase, a configuration (file keystore and SQLite
  store, both as plugin processes), and a root and an issuing CA on first
  start; later starts reuse them.
`,
		run: func(args []string) error {
			fs := newFlags("serve")
			cf.register(fs)
			dev := fs.Bool("dev", false, "development mode: no files needed")
			state := fs.String("state", "", "dev mode state `DIR`")
			listen := fs.String("listen", "", "listen `ADDR` (default the pkid block's listen, or 127.0.0.1:8888)")
			tlsCert := fs.String("tls-cert", "", "serving certificate (PEM)")
			tlsKey := fs.String("tls-key", "", "serving key (PEM)")
			clientCA := fs.String("mutual-tls-ca", "", "require client certificates issued by this CA (PEM)")
			minTLS := fs.String("min-tls-version", "1.2", "minimum TLS version: 1.0, 1.1, 1.2 or 1.3")
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			tlsVersion, err := parseTLSVersion(*minTLS)
			if err != nil {
				return err
			}
			if tlsVersion < tls.VersionTLS12 {
				fmt.Fprintf(e.stderr, "pkid: warning: TLS %s is obsolete; use 1.2 or 1.3\n", *minTLS)
			}
			if (*tlsCert == "") != (*tlsKey == "") {
				return usagef("-tls-cert and -tls-key go together")
			}
			if *clientCA != "" && *tlsCert == "" {
				return usagef("-mutual-tls-ca needs -tls-cert and -tls-key")
			}

			ctx := context.Background()
			log := hclog.New(&hclog.LoggerOptions{Name: "pkid", Output: e.stderr, Level: logLevel("info")})
			if *dev {
				dir := *state
				if dir == "" {
					dir = os.Getenv("PKID_STATE_DIR")
				}
				if dir == "" {
					dir = "pkid-dev"
				}
				addr := *listen
				if addr == "" {
					addr = "127.0.0.1:8888"
				}
				path, err := devmode.Prepare(dir, addr, e.stdout)
				if err != nil {
					return err
				}
				cf.paths = stringList{path}
			}
			s, err := cf.load(e, false)
			if err != nil {
				return err
			}
			defer s.Close()
			// Listen first: the CAs' OCSP and CRL URLs default to this
			// address when the configuration sets no public_url.
			addr := *listen
			if addr == "" {
				addr = s.Config.Pkid.Listen
			}
			if addr == "" {
				addr = "127.0.0.1:8888"
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			defer ln.Close()
			scheme := "http"
			if *tlsCert != "" || s.Config.Pkid.TLS.Cert != "" {
				scheme = "https"
			}
			base := fmt.Sprintf("%s://%s", scheme, ln.Addr())
			if ta, ok := ln.Addr().(*net.TCPAddr); ok && ta.IP.IsUnspecified() && s.Config.Pkid.PublicURL == "" {
				// All interfaces: certificates need a name clients can reach.
				host, _ := os.Hostname()
				base = fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(host, fmt.Sprint(ta.Port)))
				log.Warn("no public_url in the pkid block: issued certificates point their OCSP and CRL URLs at this host name", "url", base)
			}
			if *dev {
				if err := devmode.Bootstrap(ctx, s.Loaded, base, e.stdout); err != nil {
					return err
				}
			}
			set, diags := authority.BuildWith(ctx, s.Loaded, authority.Options{PublicURL: base})
			if diags.HasErrors() {
				return printDiags(e, s.Config, diags)
			}
			if len(set.CAs) == 0 {
				return errors.New("serve: the configuration declares no ca block")
			}
			var store sdk.CertStore
			if len(s.CertStores) == 1 {
				for _, cs := range s.CertStores {
					store = cs
				}
			}
			pk := s.Config.Pkid
			authKeys := map[string]profile.AuthKey{}
			for name, k := range pk.AuthKeys {
				authKeys[name] = profile.AuthKey{Type: "standard", Key: k.Key}
			}
			if err := checkAuthKeyNames(set, authKeys); err != nil {
				return err
			}
			pub, err := newPublisher(ctx, s, set, log)
			if err != nil {
				return err
			}
			defer pub.stop()
			// The pkid block's tls settings apply unless flags override them.
			if *tlsCert == "" && pk.TLS.Cert != "" {
				*tlsCert, *tlsKey = pk.TLS.Cert, pk.TLS.Key
				if *clientCA == "" {
					*clientCA = pk.TLS.ClientCA
				}
				if pk.TLS.MinVersion != "" && !flagSet(fs, "min-tls-version") {
					if tlsVersion, err = parseTLSVersion(pk.TLS.MinVersion); err != nil {
						return err
					}
				}
			}
			srv, err := server.New(server.Options{
				CAs: set, Store: store, Logger: log.Named("http"),
				AuthKeys: authKeys, ClientCertPolicy: pk.ClientCertPolicy, MaxBodyBytes: pk.MaxBodyBytes,
				OnRevoke: pub.revoked, Enabled: pk.EnableEndpoints, Disabled: pk.DisableEndpoints,
				HealthChecks: healthChecks(s, set),
				Limits:       pk.Limits.WithDefaults(), ClientCertRequired: *clientCA != "",
			})
			var open *server.OpenEndpointError
			if errors.As(err, &open) {
				if rng := pkidAttrRange(s.Config, "enable_endpoints"); rng != nil {
					return printDiags(e, s.Config, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: open.Endpoint + " enabled without authentication",
						Detail: strings.TrimPrefix(open.Error(), "server: "), Subject: rng}})
				}
			}
			if err != nil {
				return err
			}
			// Periodic jobs run on one node: the holder of an advisory lock
			// in a postgres certstore's database, else this node alone.
			var periodic []jobs.Job
			for name, cs := range s.CertStores {
				j := jobs.ExpirySweep(cs, log.Named("jobs"), time.Hour)
				j.Name += ":" + name
				periodic = append(periodic, j)
			}
			periodic = append(periodic, pub.jobs()...)
			var runner *jobs.Runner
			for _, b := range s.Config.CertStores {
				newPG, ok := catalog.LookupBuiltin(config.KindCertStore, "postgres")
				if b.Type != "postgres" || !ok || runner != nil {
					continue
				}
				raw, diags := config.DecodePluginBody(b, newPG().Schema(config.KindCertStore))
				if diags.HasErrors() {
					return printDiags(e, s.Config, diags)
				}
				var pc struct {
					DSN string `json:"dsn"`
				}
				if err := json.Unmarshal(raw, &pc); err != nil {
					return fmt.Errorf("serve: certstore %q: %w", b.Name, err)
				}
				if runner, err = jobs.NewPostgres(pc.DSN, jobs.DefaultLockKey, periodic, log.Named("jobs"), jobs.Options{}); err != nil {
					return fmt.Errorf("serve: certstore %q: %w", b.Name, err)
				}
			}
			if runner == nil {
				if runner, err = jobs.NewLocal(periodic, log.Named("jobs")); err != nil {
					return fmt.Errorf("serve: %w", err)
				}
			}
			runner.Start(ctx)
			defer runner.Stop()

			hs := &http.Server{
				Handler:           pub.routes(srv.Handler()),
				ReadHeaderTimeout: readHeaderTimeout,
				ReadTimeout:       readTimeout,
				WriteTimeout:      writeTimeout,
				IdleTimeout:       idleTimeout,
				ErrorLog:          log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
			}
			if *tlsCert != "" {
				cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
				if err != nil {
					return fmt.Errorf("serve: TLS: %w", err)
				}
				hs.TLSConfig = &tls.Config{MinVersion: tlsVersion, Certificates: []tls.Certificate{cert}}
				if *clientCA != "" {
					pemBytes, err := os.ReadFile(*clientCA)
					if err != nil {
						return fmt.Errorf("serve: -mutual-tls-ca: %w", err)
					}
					pool := x509.NewCertPool()
					if !pool.AppendCertsFromPEM(pemBytes) {
						return fmt.Errorf("serve: -mutual-tls-ca %s: no PEM certificate", *clientCA)
					}
					hs.TLSConfig.ClientCAs, hs.TLSConfig.ClientAuth = pool, tls.RequireAndVerifyClientCert
				}
				ln = tls.NewListener(ln, hs.TLSConfig)
			}
			fmt.Fprintf(e.stdout, "pkid %s listening on %s\n", Version, base)
			for _, l := range devmode.Fingerprints(set) {
				fmt.Fprintf(e.stdout, "  CA %s\n", l)
			}
			fmt.Fprintf(e.stdout, "Default CA: %s. Try:\n  pkid print-defaults csr > csr.json && pkid gencert -remote %s -profile server csr.json | pkid json -bare server\n", set.Default, base)
			if *dev {
				fmt.Fprintf(e.stdout, "  curl -s -d '{\"label\":\"\"}' %s/api/v1/cfssl/info\n", base)
			}

			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
			defer signal.Stop(sig)
			select {
			case err := <-errc:
				return fmt.Errorf("serve: %w", err)
			case got := <-sig:
				log.Info("shutting down: in-flight requests finish, new ones are refused", "signal", got.String())
			}
			sctx, cancel := context.WithTimeout(ctx, shutdownGrace)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil {
				return fmt.Errorf("serve: shutdown: %w", err)
			}
			log.Info("stopped")
			return nil
		},
	}
}

// pkidAttrRange returns the range of the pkid block's attribute name in the
// configuration's native-syntax files, or nil.
func pkidAttrRange(cfg *config.Config, name string) *hcl.Range {
	for _, f := range cfg.Files {
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		for _, b := range body.Blocks {
			if a, ok := b.Body.Attributes[name]; ok && b.Type == "pkid" {
				return a.SrcRange.Ptr()
			}
		}
	}
	return nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// checkAuthKeyNames refuses profiles whose auth_key names no declared key:
// such a profile would silently accept nothing.
func checkAuthKeyNames(set *authority.Set, keys map[string]profile.AuthKey) error {
	for _, label := range set.Labels() {
		cfg := set.CAs[label].Profiles()
		all := map[string]*profile.Profile{"default": cfg.Default}
		for n, p := range cfg.Profiles {
			all[n] = p
		}
		for n, p := range all {
			if p == nil {
				continue
			}
			for _, k := range []string{p.AuthKey, p.PrevAuthKey} {
				if _, ok := keys[k]; k != "" && !ok {
					if _, ok := cfg.AuthKeys[k]; !ok {
						return fmt.Errorf("serve: ca %q profile %q: auth_key %q is not declared (add auth_key %q { key = ... } to the pkid block)", label, n, k, k)
					}
				}
			}
		}
	}
	return nil
}

func parseTLSVersion(s string) (uint16, error) {
	switch s {
	case "1.0":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, usagef("-min-tls-version must be 1.0, 1.1, 1.2 or 1.3, not %q", s)
}

func logLevel(def string) hclog.Level {
	if l := hclog.LevelFromString(os.Getenv("PKID_LOG_LEVEL")); l != hclog.NoLevel {
		return l
	}
	return hclog.LevelFromString(def)
}

// healthChecks are health's parts beyond the certstore probe: each plugin
// process (running, or restarting with its last error), each certstore's
// last write, and each CA key (a cached test signature through its
// keystore, checked with the CA certificate).
func healthChecks(s *session, set *authority.Set) map[string]func(context.Context) error {
	checks := map[string]func(context.Context) error{}
	for _, p := range s.host.Processes() {
		checks[p.Name()] = p.Check
	}
	for name, cs := range s.CertStores {
		// Reads work on a full disk: the store's last write tells.
		if c, ok := cs.(interface{ Check(context.Context) error }); ok {
			checks["certstore."+name] = c.Check
		}
	}
	for _, c := range s.Config.CAs {
		if iss, ok := set.CAs[c.Name]; ok {
			checks["ca."+c.Name] = server.CachedCheck(server.HealthCacheTTL, server.KeyProbe(s.KeyStores[c.KeyStore], c.Key, iss.Certificate()))
		}
	}
	return checks
}
