package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/acme/validation"
)

func validatorCmd(e *env) *command {
	return &command{
		synopsis: "Run an ACME validation perspective (for multi-perspective validation)",
		help: `
Usage: pkid validator -listen ADDR -tls-cert FILE -tls-key FILE -client-ca FILE
                      -name NAME -resolver HOST:PORT
                      [-http-port 80] [-tls-alpn-port 443] [-timeout 10s]

  Validates ACME challenges (http-01, dns-01, tls-alpn-01) and CAA from
  this host's network position, for a pkid daemon that corroborates
  several perspectives before it accepts a challenge (docs/acme.md).

  It serves HTTPS on -listen: POST /validate takes a JSON validation
  request and answers what this perspective saw; GET /health answers
  {"status":"ok"}, or 503 when -resolver does not answer. Every request
  must present a client certificate that chains to -client-ca (the
  daemon's). Every DNS lookup goes to -resolver.
  -http-port and -tls-alpn-port are the ports challenges are fetched
  from; -timeout bounds one validation, lookups included.
`,
		run: func(args []string) error {
			fs := newFlags("validator")
			listen := fs.String("listen", "", "listen `ADDR` (host:port)")
			certFile := fs.String("tls-cert", "", "server certificate `PEM`")
			keyFile := fs.String("tls-key", "", "server key `PEM`")
			clientCA := fs.String("client-ca", "", "CA certificates `PEM` client certificates must chain to")
			name := fs.String("name", "", "this perspective's `NAME`")
			resolver := fs.String("resolver", "", "DNS server `HOST:PORT` asked for every lookup")
			httpPort := fs.Int("http-port", 80, "`PORT` http-01 fetches from")
			alpnPort := fs.Int("tls-alpn-port", 443, "`PORT` tls-alpn-01 connects to")
			timeout := fs.Duration("timeout", validation.DefaultTimeout, "bound on one validation")
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			for _, f := range []struct{ flag, v string }{
				{"-listen", *listen}, {"-tls-cert", *certFile}, {"-tls-key", *keyFile},
				{"-client-ca", *clientCA}, {"-name", *name}, {"-resolver", *resolver},
			} {
				if f.v == "" {
					return usagef("%s is required", f.flag)
				}
			}
			if _, p, err := net.SplitHostPort(*resolver); err != nil || !validPort(p) {
				return usagef("-resolver %q is not HOST:PORT", *resolver)
			}
			for _, p := range []struct {
				flag string
				v    int
			}{{"-http-port", *httpPort}, {"-tls-alpn-port", *alpnPort}} {
				if p.v < 1 || p.v > 65535 {
					return usagef("%s %d is not a port", p.flag, p.v)
				}
			}
			if *timeout <= 0 || *timeout > 5*time.Minute {
				return usagef("-timeout %v is not between 0 and 5m", *timeout)
			}
			cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				return fmt.Errorf("validator: server certificate: %w", err)
			}
			caPEM, err := os.ReadFile(*clientCA)
			if err != nil {
				return fmt.Errorf("validator: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(caPEM) {
				return fmt.Errorf("validator: no PEM certificate in %s", *clientCA)
			}

			log := hclog.New(&hclog.LoggerOptions{Name: "pkid-validator", Output: e.stderr, Level: logLevel("info")})
			local := validation.NewLocal(validation.LocalOptions{
				Name: *name, Resolver: *resolver, HTTPPort: *httpPort, TLSPort: *alpnPort, Timeout: *timeout,
			})
			ln, err := net.Listen("tcp", *listen)
			if err != nil {
				return fmt.Errorf("validator: %w", err)
			}
			srv := &http.Server{
				Handler: validation.NewHandler(loggedValidator{v: local, log: log}),
				TLSConfig: &tls.Config{
					Certificates: []tls.Certificate{cert},
					ClientCAs:    pool,
					ClientAuth:   tls.RequireAndVerifyClientCert,
					MinVersion:   tls.VersionTLS12,
				},
				ReadHeaderTimeout: 5 * time.Second,
				ReadTimeout:       10 * time.Second,
				WriteTimeout:      *timeout + 10*time.Second,
				IdleTimeout:       2 * time.Minute,
				MaxHeaderBytes:    16 << 10,
				ErrorLog:          log.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
			}
			ctx, stop := signalContext()
			defer stop()
			errc := make(chan error, 1)
			go func() { errc <- srv.ServeTLS(ln, "", "") }()
			fmt.Fprintf(e.stdout, "pkid %s validator %s listening on https://%s\n", Version, *name, ln.Addr())
			select {
			case err := <-errc:
				return fmt.Errorf("validator: %w", err)
			case <-ctx.Done():
			}
			log.Info("stopping", "cause", context.Cause(ctx))
			sctx, cancel := context.WithTimeout(context.Background(), *timeout+time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("validator: %w", err)
			}
			return nil
		},
	}
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// loggedValidator logs one line per validation.
type loggedValidator struct {
	v   validation.Validator
	log hclog.Logger
}

// Check forwards the perspective's health check, so /health tells
// whether the resolver answers.
func (l loggedValidator) Check(ctx context.Context) error {
	if c, ok := l.v.(validation.Checker); ok {
		return c.Check(ctx)
	}
	return nil
}

func (l loggedValidator) Validate(ctx context.Context, req validation.Request) validation.View {
	start := time.Now()
	v := l.v.Validate(ctx, req)
	args := []any{"type", req.Type, "identifier", req.Identifier.Value, "ok", v.OK, "addresses", v.Addresses, "took", time.Since(start).Round(time.Millisecond)}
	if v.Problem != nil {
		args = append(args, "problem", v.Problem.Type, "detail", v.Problem.Detail)
	}
	l.log.Info("validation", args...)
	return v
}
