package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/config"
)

// Prefix is where the dashboard is mounted.
const Prefix = "/ui/"

// Bounds of the work one request may cause.
const (
	// MaxScan is how many stored records one page view examines at most.
	MaxScan = 5000
	// PageSize is the rows of one page of a list.
	PageSize = 50
	// MaxPage is the highest page number accepted.
	MaxPage = MaxScan / PageSize
	// MaxQueryBytes bounds the raw query string.
	MaxQueryBytes = 1024
	// MaxSearchBytes bounds the search text.
	MaxSearchBytes = 256
	// requestTimeout bounds the store and health calls of one request.
	requestTimeout = 10 * time.Second
	// ocspSample is how many good certificates per CA the overview checks
	// for a stored, fresh OCSP response.
	ocspSample = 100
	// DefaultMaxConcurrent is how many pages are built at once; more wait
	// for a turn within the request's time bound.
	DefaultMaxConcurrent = 4
)

// Security headers of every answer. No script may run at all; styles and
// images come only from the dashboard itself.
const csp = "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// static are the embedded files under Prefix+"static/" with their types.
var static = map[string]string{"style.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}

// Access says who may see the dashboard. A request is admitted when
// Loopback is set and it comes from a loopback address, or when it
// carries a verified client certificate whose subject CN matches one of
// Patterns (an empty, non-nil Patterns admits every verified client).
type Access struct {
	Loopback bool
	Patterns []*regexp.Regexp
}

// CompilePatterns anchors (^(?:…)$) and compiles client_cert_policy
// patterns as the API server does. Errors: an invalid regular expression.
func CompilePatterns(pats []string) ([]*regexp.Regexp, error) {
	out := []*regexp.Regexp{}
	for _, p := range pats {
		if !strings.HasPrefix(p, "^") || !strings.HasSuffix(p, "$") {
			p = "^(?:" + p + ")$"
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("ui: client certificate pattern %q: %w", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// Options configures the dashboard.
type Options struct {
	// CAs are the daemon's CAs; their certstores back the lists.
	CAs *authority.Set
	// Config names each CA's keystore, key, certstore and chain file.
	Config *config.Config
	// CRLDir holds the published CRLs' metadata (LABEL.crl.json).
	CRLDir string
	// Health are the daemon's health checks by name (plugin processes,
	// certstores, CA keys).
	Health map[string]func(context.Context) error
	Access Access
	// ExpiringWithin is the "expiring soon" horizon (0: the config default).
	ExpiringWithin time.Duration
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
	Log hclog.Logger
	// OnDone, when set, is told of every answered request (metrics, and
	// the audit log's authentication failures).
	OnDone func(ctx context.Context, ev Event)
	// MaxConcurrent bounds the pages built at once (0:
	// DefaultMaxConcurrent): a few operators, or one reloading in a loop,
	// cannot turn the dashboard into a store load.
	MaxConcurrent int
}

// Event is one answered dashboard request.
type Event struct {
	Status   int
	Duration time.Duration
	// Denied is why the request was refused for who it came from (401,
	// 403); empty otherwise.
	Denied string
	// Client is the verified client certificate's CN; Remote the peer
	// address.
	Client, Remote string
}

// statusWriter remembers the status an answer was sent with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Handler serves the dashboard under Prefix.
type Handler struct {
	opts  Options
	slots chan struct{}
	pages map[string]*template.Template
	cas   []caInfo // static part of the overview, built once
}

// New prepares the dashboard. Errors: a CA's chain file cannot be read.
func New(opts Options) (*Handler, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = hclog.NewNullLogger()
	}
	if opts.ExpiringWithin <= 0 {
		opts.ExpiringWithin = config.DefaultUIExpiringWithin
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	h := &Handler{opts: opts, pages: map[string]*template.Template{}, slots: make(chan struct{}, opts.MaxConcurrent)}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("ui: %w", err)
		}
		h.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	if h.cas, err = caInfos(opts.CAs, opts.Config); err != nil {
		return nil, err
	}
	return h, nil
}

// requestError is an answer other than 200: its status and a message for
// the page (and the log).
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &requestError{status: status, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opts.OnDone == nil {
		h.serve(w, r)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	denied := h.serve(sw, r)
	ev := Event{Status: sw.status, Duration: time.Since(start), Denied: denied, Remote: r.RemoteAddr}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
		ev.Client = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	h.opts.OnDone(r.Context(), ev)
}

// serve answers r; denied is the reason when Access refused it.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (denied string) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	hdr.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		h.fail(w, r, errorf(http.StatusMethodNotAllowed, "method %s is not allowed: the dashboard is read-only (GET and HEAD only)", r.Method))
		return ""
	}
	if err := h.admit(r); err != nil {
		h.fail(w, r, err)
		return err.Error()
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return ""
	}
	if name, ok := strings.CutPrefix(r.URL.Path, Prefix+"static/"); ok && static[name] != "" {
		b, _ := staticFS.ReadFile("static/" + name)
		hdr.Set("Content-Type", static[name])
		hdr.Set("Cache-Control", "private, max-age=3600") // no data in it
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
		return ""
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	case <-ctx.Done():
		hdr.Set("Retry-After", "5")
		h.fail(w, r, errorf(http.StatusServiceUnavailable, "the dashboard is busy with other requests; try again shortly"))
		return ""
	}
	page, data, err := h.route(ctx, r)
	if err != nil {
		h.fail(w, r, err)
		return ""
	}
	h.render(w, r, http.StatusOK, page, data)
	return ""
}

// admit applies Access. Errors: 401 without a verified client
// certificate, 403 for a client the policy does not name or a remote
// address that is not loopback in dev mode.
func (h *Handler) admit(r *http.Request) error {
	a := h.opts.Access
	if a.Loopback {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsLoopback() {
			// A web page the operator visits could point a name of its
			// own at 127.0.0.1 (DNS rebinding) and read the dashboard
			// through the operator's browser: only loopback names pass.
			if !loopbackHost(r.Host) {
				return errorf(http.StatusForbidden, "host %q is not a loopback address or localhost: the dev dashboard answers only requests addressed to this machine by such a name", clip(r.Host))
			}
			return nil
		}
	}
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		if a.Patterns == nil {
			return errorf(http.StatusForbidden, "the dashboard is open to loopback clients only")
		}
		return errorf(http.StatusUnauthorized, "a client certificate is required: the dashboard is open only to mTLS clients named by the ui entry of client_cert_policy")
	}
	cn := r.TLS.PeerCertificates[0].Subject.CommonName
	if a.Patterns == nil {
		return errorf(http.StatusForbidden, "client certificate %q is not authorised for the dashboard: client_cert_policy has no ui entry", cn)
	}
	if len(a.Patterns) == 0 {
		return nil
	}
	for _, re := range a.Patterns {
		if re.MatchString(cn) {
			return nil
		}
	}
	return errorf(http.StatusForbidden, "client certificate %q is not authorised for the dashboard: it matches no pattern of the ui entry of client_cert_policy", cn)
}

// loopbackHost reports whether a Host header names this machine:
// localhost or a loopback IP literal, with or without a port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// route validates the query and builds the page's data.
func (h *Handler) route(ctx context.Context, r *http.Request) (string, any, error) {
	p := strings.TrimPrefix(r.URL.Path, Prefix)
	spec, ok := routes[p]
	if !ok || !strings.HasPrefix(r.URL.Path, Prefix) {
		return "", nil, errorf(http.StatusNotFound, "no such page: %s", r.URL.Path)
	}
	q, err := parseQuery(r.URL.RawQuery, spec, h.opts.CAs)
	if err != nil {
		return "", nil, err
	}
	data, err := spec.build(h, ctx, q)
	if err != nil {
		return "", nil, err
	}
	return spec.page, data, nil
}

// routes are the pages by path below Prefix and the query parameters each
// accepts.
var routes = map[string]route{
	"":         {page: "overview", build: (*Handler).overview},
	"recent":   {page: "list", params: []string{"ca", "page"}, build: (*Handler).recent},
	"expiring": {page: "list", params: []string{"ca", "page"}, build: (*Handler).expiring},
	"revoked":  {page: "list", params: []string{"ca", "page"}, build: (*Handler).revoked},
	"search":   {page: "search", params: []string{"q"}, build: (*Handler).search},
	"cert":     {page: "cert", params: []string{"ca", "serial"}, required: []string{"ca", "serial"}, build: (*Handler).cert},
}

type route struct {
	page     string
	params   []string
	required []string
	build    func(h *Handler, ctx context.Context, q query) (any, error)
}

// pageData is what every page's layout shows.
type pageData struct {
	Title string
	Nav   string
	Query string // the search box's text
	Now   time.Time
	Body  any
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, body any) {
	var title, nav string
	switch d := body.(type) {
	case *overviewData:
		title, nav = "Overview", "overview"
	case *listData:
		title, nav = d.Title, d.Nav
	case *searchData:
		title, nav = "Search", "search"
	case *certData:
		title, nav = "Certificate "+d.Cert.Serial, ""
	case *errorData:
		title = http.StatusText(d.Status)
	}
	q := ""
	if s, ok := body.(*searchData); ok {
		q = s.Query
	}
	var buf bytes.Buffer
	if err := h.pages[page].Execute(&buf, pageData{Title: title, Nav: nav, Query: q, Now: h.opts.Now(), Body: body}); err != nil {
		h.opts.Log.Error("rendering a dashboard page", "page", page, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

type errorData struct {
	Status  int
	Message string
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	if !errors.As(err, &re) {
		h.opts.Log.Error("dashboard request", "path", r.URL.Path, "error", err)
		re = &requestError{status: http.StatusServiceUnavailable, msg: "the certificate store could not be read: " + err.Error()}
		if errors.Is(err, context.DeadlineExceeded) {
			re.msg = "the certificate store did not answer in time"
		}
	}
	h.render(w, r, re.status, "error", &errorData{Status: re.status, Message: re.msg})
}

func fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"rel": relative,
	"colons": func(h string) string {
		h = strings.ToUpper(h)
		var b strings.Builder
		for i := 0; i+2 <= len(h); i += 2 {
			if i > 0 {
				b.WriteByte(':')
			}
			b.WriteString(h[i : i+2])
		}
		return b.String()
	},
	"reason": reasonName,
	"join":   strings.Join,
	"add":    func(a, b int) int { return a + b },
	"table": func(rows []row, revoked bool, now time.Time) tableData {
		return tableData{Rows: rows, Revoked: revoked, Now: now}
	},
}

// tableData is the argument of the shared "rows" template.
type tableData struct {
	Rows    []row
	Revoked bool
	Now     time.Time
}

// relative says how far t is from now ("in 3d", "2h ago").
func relative(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	suffix, prefix := "", "in "
	if d < 0 {
		d, suffix, prefix = -d, " ago", ""
	}
	var s string
	switch {
	case d >= 48*time.Hour:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	case d >= 2*time.Minute:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	default:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	}
	return prefix + s + suffix
}

var reasons = []string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
	"cessationOfOperation", "certificateHold", "", "removeFromCRL", "privilegeWithdrawn", "aACompromise"}

func reasonName(r int) string {
	if r >= 0 && r < len(reasons) && reasons[r] != "" {
		return reasons[r]
	}
	return fmt.Sprint(r)
}

// caInfo is the overview's static description of one CA.
type caInfo struct {
	Label, Subject, Issuer, Serial, SHA256 string
	NotBefore, NotAfter                    time.Time
	KeyStore, KeyStoreType, Key            string
	CertStore                              string
	Default                                bool
	Chain                                  []chainCert
}

type chainCert struct {
	Subject, Issuer string
	NotAfter        time.Time
}

func caInfos(set *authority.Set, cfg *config.Config) ([]caInfo, error) {
	if set == nil {
		return nil, nil
	}
	blocks := map[string]*config.CA{}
	ksType := map[string]string{}
	if cfg != nil {
		for _, c := range cfg.CAs {
			blocks[c.Name] = c
		}
		for _, k := range cfg.KeyStores {
			ksType[k.Name] = k.Type
		}
	}
	var out []caInfo
	for _, label := range set.Labels() {
		c := set.CAs[label].Certificate()
		info := caInfo{Label: label, Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.String(),
			SHA256: fingerprint(c.Raw), NotBefore: c.NotBefore, NotAfter: c.NotAfter, Default: label == set.Default}
		if b := blocks[label]; b != nil {
			info.KeyStore, info.KeyStoreType, info.Key, info.CertStore = b.KeyStore, ksType[b.KeyStore], b.Key, b.CertStore
			if b.Chain != "" {
				chain, err := authority.ReadCertificates(b.Chain)
				if err != nil {
					return nil, fmt.Errorf("ui: ca %q chain: %w", label, err)
				}
				info.Chain = chainOf(chain)
			}
		}
		out = append(out, info)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Default && !out[j].Default })
	return out, nil
}

func chainOf(certs []*x509.Certificate) []chainCert {
	var out []chainCert
	for _, c := range certs {
		out = append(out, chainCert{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotAfter: c.NotAfter})
	}
	return out
}
