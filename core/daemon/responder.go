package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/server/responder"
)

// ResponderOptions configures a standalone OCSP responder.
type ResponderOptions struct {
	// Listen is the address to listen on (port 0 picks a free one).
	Listen string
	// Path is the URL path the responder answers under ("/" or "/ocsp");
	// other paths get 404.
	Path string
	// Source answers the requests (StoreSource, or a responses file).
	Source responder.Source
	// Log receives the responder's log lines; nil discards them.
	Log hclog.Logger
}

// Responder is a standalone OCSP responder (pkid ocspserve).
type Responder struct {
	ln      net.Listener
	hs      *http.Server
	handler http.Handler
	prefix  string
	log     hclog.Logger
}

// StoreSource answers for every CA of the configuration from its
// certstore, never writing to it; live also signs, through the CAs'
// keystores, what is not pre-signed (kept in memory only). Errors:
// *DiagnosticsError for CA blocks that do not build, or a configuration
// without any ca block.
func StoreSource(ctx context.Context, l *catalog.Loaded, live bool, log hclog.Logger) (responder.Source, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	set, diags := authority.Build(ctx, l)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags}
	}
	if len(set.CAs) == 0 {
		return nil, errors.New("ocspserve: the configuration declares no ca block")
	}
	return OCSPSource(set, live, false, log), nil
}

// NewResponder opens the listener and prepares the responder. Errors:
// a Path not starting with "/", or listening.
func NewResponder(opts ResponderOptions) (*Responder, error) {
	if !strings.HasPrefix(opts.Path, "/") {
		return nil, errors.New("ocspserve: the path must start with /")
	}
	log := opts.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	r := &Responder{prefix: strings.TrimRight(opts.Path, "/"), log: log}
	h := responder.NewHandler(opts.Source, responder.Options{Log: log})
	r.handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.prefix != "" && !under(req.URL.Path, r.prefix) {
			http.NotFound(w, req)
			return
		}
		r2 := req.Clone(req.Context())
		r2.URL.Path = strings.TrimPrefix(req.URL.Path, r.prefix)
		if req.URL.RawPath != "" {
			r2.URL.RawPath = strings.TrimPrefix(req.URL.RawPath, r.prefix)
		}
		h.ServeHTTP(w, r2)
	})
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("ocspserve: %w", err)
	}
	r.ln = ln
	r.hs = newHTTPServer(r.handler, log)
	return r, nil
}

// URL is where the responder answers ("http://127.0.0.1:8888/ocsp/").
func (r *Responder) URL() string { return fmt.Sprintf("http://%s%s/", r.ln.Addr(), r.prefix) }

// Handler serves OCSP requests under the configured path.
func (r *Responder) Handler() http.Handler { return r.handler }

// Run serves until ctx ends, then shuts down gracefully (as Daemon.Run).
func (r *Responder) Run(ctx context.Context) error {
	return serve(ctx, r.hs, r.ln, DefaultShutdownGrace, r.log)
}

// Close closes the listener; safe after Run.
func (r *Responder) Close() error {
	if err := r.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("ocspserve: %w", err)
	}
	return nil
}
