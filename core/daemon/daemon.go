// Package daemon builds and runs the pkid CA daemon: the configured CA set,
// the HTTP API with its publication routes (OCSP, CRLs, CA certificates),
// the periodic jobs, TLS, and graceful shutdown. The CLI parses flags and
// calls New and Run; tests start a daemon the same way without the CLI.
//
// Like every library of pkid it never exits the process, parses flags or
// prints to the terminal: errors are returned (configuration problems as
// *DiagnosticsError, with source ranges) and progress goes to Options.Log.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/acme"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/forward"
	"github.com/pkid/pkid/core/jobs"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/core/server"
	"github.com/pkid/pkid/sdk"
)

// DefaultListen is the listen address when neither Options.Listen nor the
// pkid block's listen sets one.
const DefaultListen = "127.0.0.1:8888"

// Server timeouts: CFSSL has none, so a slow client could hold a
// connection forever.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	// DefaultShutdownGrace bounds how long Run waits for in-flight
	// requests after its context is cancelled.
	DefaultShutdownGrace = 30 * time.Second
)

// Options configures a daemon. The zero value serves the configuration's
// pkid block as written.
type Options struct {
	// Listen is the address to listen on ("host:port"; port 0 picks a
	// free one). Empty: the pkid block's listen, else DefaultListen.
	Listen string
	// TLS, when TLS.Cert is set, replaces the pkid block's tls settings.
	TLS TLS
	// Host is the plugin host the configuration was loaded with: health
	// then reports each plugin process. Nil: no process checks.
	Host *pluginhost.Host
	// Log receives the daemon's and the HTTP server's log lines; nil
	// discards them.
	Log hclog.Logger
	// Bootstrap, when set, runs once the listener is open and before the
	// CAs are built, with the daemon's base URL (dev mode creates its CAs
	// there, pointing their URLs at this daemon).
	Bootstrap func(ctx context.Context, baseURL string) error
	// ShutdownGrace bounds the wait for in-flight requests when Run's
	// context ends (0: DefaultShutdownGrace).
	ShutdownGrace time.Duration
	// MetricsListen, when set, replaces the pkid block's metrics_listen.
	MetricsListen string
	// AllowNoCA lets a configuration without any ca block serve the
	// endpoints that need no CA (cfssl serve without -ca).
	AllowNoCA bool
	// Forward, when set, forwards cfssl serve's JSON forwarding profiles
	// (by profile name, whatever the label); the configuration's own
	// forwarding profiles (remote = remote.NAME) forward without it. The
	// API server's policy guards every forwarded request (core/forward).
	Forward *forward.Options
	// ACMEDocs, when set, holds the ACME state instead of the ACME CA's
	// certstore (tests: an in-memory store).
	ACMEDocs sdk.DocStore
	// Dev is dev mode: the dashboard is on, for loopback clients only.
	Dev bool
}

// TLS names the serving certificate and key files (PEM), and optionally a
// CA whose client certificates are then required (mutual TLS).
type TLS struct {
	Cert, Key, ClientCA string
	// MinVersion is a tls.VersionTLS1x constant; 0 means the pkid
	// block's min_version when its certificate is used, else TLS 1.2.
	MinVersion uint16
}

// DiagnosticsError is a configuration problem found while building the
// daemon, with the source ranges of what is wrong: callers print Diags
// with the configuration's snippets (file:line:col).
type DiagnosticsError struct {
	Diags hcl.Diagnostics
}

func (e *DiagnosticsError) Error() string { return "daemon: " + e.Diags.Error() }

// Daemon is a built daemon: listening, with its CAs and routes ready.
// Serve it with Run; release it with Close.
type Daemon struct {
	set     *authority.Set
	ln      net.Listener
	base    string
	hs      *http.Server
	handler http.Handler
	pub     *publisher
	runner  *jobs.Runner
	log     hclog.Logger
	grace   time.Duration
	// stopTrust ends the trust pool's watchers.
	stopTrust context.CancelFunc
	ops       *ops // metrics listener and audit log
	acme      *acme.Server
}

// New builds the daemon for a loaded configuration: it opens the listener
// (so the CAs' OCSP and CRL URLs can default to its address), runs
// opts.Bootstrap, builds the CA set, the API server and the publication
// routes, and prepares the periodic jobs. ctx bounds the construction; the
// background work New starts lasts until Close. The caller keeps owning
// loaded (and its plugin host).
//
// Errors: *DiagnosticsError for configuration problems with a source
// range; otherwise a wrapped error (listening, TLS files, the jobs'
// database settings, a configuration without any ca block).
func New(ctx context.Context, loaded *catalog.Loaded, opts Options) (_ *Daemon, err error) {
	log := opts.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	d := &Daemon{log: log, grace: opts.ShutdownGrace}
	if d.grace <= 0 {
		d.grace = DefaultShutdownGrace
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	pk := loaded.Config.Pkid
	addr := opts.Listen
	if addr == "" {
		addr = pk.Listen
	}
	if addr == "" {
		addr = DefaultListen
	}
	if d.ln, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	tlsFiles := opts.TLS
	if tlsFiles.Cert == "" && pk.TLS.Cert != "" {
		tlsFiles = TLS{Cert: pk.TLS.Cert, Key: pk.TLS.Key, ClientCA: pk.TLS.ClientCA, MinVersion: opts.TLS.MinVersion}
		if tlsFiles.MinVersion == 0 && pk.TLS.MinVersion != "" {
			if tlsFiles.MinVersion, err = ParseTLSVersion(pk.TLS.MinVersion); err != nil {
				return nil, fmt.Errorf("serve: pkid block tls min_version: %w", err)
			}
		}
	}
	d.base = baseURL(d.ln, tlsFiles.Cert != "", pk.PublicURL, log)
	if err := checkUI(pk, opts, tlsFiles.ClientCA != ""); err != nil {
		return nil, err
	}
	if d.ops, err = newOps(loaded, opts.MetricsListen, log); err != nil { // before any CA is created
		return nil, err
	}
	if opts.Bootstrap != nil {
		if err := opts.Bootstrap(ctx, d.base); err != nil {
			return nil, err
		}
	}
	set, diags := authority.BuildWith(ctx, loaded, authority.Options{PublicURL: d.base})
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags}
	}
	if len(set.CAs) == 0 && !opts.AllowNoCA {
		return nil, errors.New("serve: the configuration declares no ca block")
	}
	d.set = set
	authKeys := authKeys(pk)
	if err := checkAuthKeyNames(set, authKeys); err != nil {
		return nil, err
	}
	if d.pub, err = newPublisher(context.WithoutCancel(ctx), loaded.Config, set, log); err != nil {
		return nil, err
	}
	bundleOpts, certinfoDial, err := d.bundler(ctx, loaded)
	if err != nil {
		return nil, err
	}
	var store sdk.CertStore
	if len(loaded.CertStores) == 1 {
		for _, cs := range loaded.CertStores {
			store = cs
		}
	}
	scanOpts, err := scanOptions(ctx, loaded, opts.Host)
	if err != nil {
		return nil, err
	}
	checks := healthChecks(loaded, opts.Host, set)
	srv, err := server.New(server.Options{
		CAs: set, Store: store, Logger: log.Named("http"),
		AuthKeys: authKeys, ClientCertPolicy: apiPolicy(pk.ClientCertPolicy), MaxBodyBytes: pk.MaxBodyBytes,
		OnRevoke: d.pub.revoked, Enabled: pk.EnableEndpoints, Disabled: pk.DisableEndpoints,
		HealthChecks: checks,
		Bundle:       bundleOpts, Dial: certinfoDial,
		Limits: pk.Limits.WithDefaults(), ClientCertRequired: tlsFiles.ClientCA != "",
		Scan:     scanOpts,
		Observer: d.ops,
	})
	var open *server.OpenEndpointError
	if errors.As(err, &open) {
		if rng := pkidAttrRange(loaded.Config, "enable_endpoints"); rng != nil {
			return nil, &DiagnosticsError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: open.Endpoint + " enabled without authentication",
				Detail: strings.TrimPrefix(open.Error(), "server: "), Subject: rng}}}
		}
	}
	if err != nil {
		return nil, err
	}
	if d.runner, err = newRunner(loaded, d.pub, log.Named("jobs")); err != nil {
		return nil, err
	}
	d.ops.collect(opts.Host, set, d.runner, CRLDir(loaded.Config))
	api := srv.Handler()
	fo, err := forwardOptions(loaded.Config, set, authKeys, opts.Forward)
	if err != nil {
		return nil, err
	}
	if fo != nil {
		fo.Guard = srv
		if fo.Log == nil {
			fo.Log = log.Named("forward")
		}
		api = forward.New(api, *fo)
	}
	if d.acme, err = newACME(ctx, set, opts.ACMEDocs, pk.PublicURL, authority.PublisherFunc(d.pub.revoked), d.ops, log); err != nil {
		return nil, err
	}
	dash, err := newUI(loaded, opts, checks, d)
	if err != nil {
		return nil, err
	}
	d.handler = withUI(dash, withACME(d.pub.routes(api), d.acme))
	d.hs = newHTTPServer(d.handler, log.Named("http"))
	if tlsFiles.Cert != "" {
		if d.hs.TLSConfig, err = tlsFiles.config(); err != nil {
			return nil, err
		}
		d.ln = tls.NewListener(d.ln, d.hs.TLSConfig)
	}
	return d, nil
}

// baseURL is the URL clients reach the daemon at, from its listener. On all
// interfaces the host name replaces the unspecified address: certificates
// need a name clients can reach.
func baseURL(ln net.Listener, https bool, publicURL string, log hclog.Logger) string {
	scheme := "http"
	if https {
		scheme = "https"
	}
	base := fmt.Sprintf("%s://%s", scheme, ln.Addr())
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && ta.IP.IsUnspecified() && publicURL == "" {
		host, _ := os.Hostname()
		base = fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(host, fmt.Sprint(ta.Port)))
		log.Warn("no public_url in the pkid block: issued certificates point their OCSP and CRL URLs at this host name", "url", base)
	}
	return base
}

// URL is the daemon's base URL ("http://127.0.0.1:8888"): its listen
// address with the scheme, which the CAs' URLs default to.
func (d *Daemon) URL() string { return d.base }

// Addr is the listener's address.
func (d *Daemon) Addr() net.Addr { return d.ln.Addr() }

// ACME is the daemon's ACME server, nil when no profile serves ACME.
func (d *Daemon) ACME() *acme.Server { return d.acme }

// Set is the daemon's CA set.
func (d *Daemon) Set() *authority.Set { return d.set }

// Handler serves the API and the publication paths, for callers that run
// their own server. Periodic jobs run only under Run.
func (d *Daemon) Handler() http.Handler { return d.handler }

// Run runs the periodic jobs and serves on the listener until ctx ends,
// then stops accepting connections and lets in-flight requests finish
// (for at most Options.ShutdownGrace). It returns nil after a graceful
// shutdown, else the serving or shutdown error. Call it once.
func (d *Daemon) Run(ctx context.Context) error {
	// The jobs outlive ctx until the in-flight requests are done: a
	// leader keeps its lock until the node has really stopped serving.
	d.runner.Start(context.WithoutCancel(ctx))
	d.ops.start()
	defer d.runner.Stop()
	return serve(ctx, d.hs, d.ln, d.grace, d.log)
}

// Close stops the background work and closes the listener. It is safe
// after Run and more than once; the caller still closes its plugin host.
func (d *Daemon) Close() error {
	if d.stopTrust != nil {
		d.stopTrust()
	}
	if d.runner != nil {
		d.runner.Stop()
	}
	if d.acme != nil {
		d.acme.Close()
	}
	if d.pub != nil {
		d.pub.stop()
	}
	d.ops.close()
	if d.ln != nil {
		if err := d.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("daemon: %w", err)
		}
	}
	return nil
}

func newHTTPServer(h http.Handler, log hclog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
}

// serve serves hs on ln until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, hs *http.Server, ln net.Listener, grace time.Duration, log hclog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		log.Info("shutting down: in-flight requests finish, new ones are refused", "cause", context.Cause(ctx))
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
