package server

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/sdk"
)

// DefaultMaxBodyBytes is the request body cap when Options.MaxBodyBytes is
// zero (docs/differences-from-cfssl.md, "Bounded requests and timeouts").
const DefaultMaxBodyBytes = 1 << 20

// BasePath is where the endpoints are mounted.
const BasePath = "/api/v1/cfssl/"

// Endpoint names accepted in Options.Disabled and ClientCertPolicy.
var Endpoints = []string{"sign", "authsign", "info", "newkey", "newcert", "init_ca", "certinfo", "revoke", "health",
	"crl", "gencrl", "ocspsign", "bundle", "scan", "scaninfo", "renew", "renewal-info", "certadd"}

// OptInEndpoints are off unless named in Options.Enabled
// (docs/differences-from-cfssl.md, "Opt-in endpoints"). ocspsign signs
// whatever status it is asked for, so it is opt-in too, and only with
// authentication (same page, "ocspsign is off by default").
var OptInEndpoints = []string{"gencrl", "ocspsign", "certadd"}

// NeedsAuthEndpoints may only be enabled once some authentication is
// configured: New refuses them otherwise with an *OpenEndpointError.
var NeedsAuthEndpoints = []string{"ocspsign"}

// OpenEndpointError is New's error for an endpoint of NeedsAuthEndpoints
// enabled without any authentication configured.
type OpenEndpointError struct{ Endpoint string }

func (e *OpenEndpointError) Error() string {
	return fmt.Sprintf("server: %s is enabled but no authentication is configured (an auth_key, a client_cert_policy or required client certificates): anyone could have it sign any OCSP status; configure authentication or leave it off", e.Endpoint)
}

// ClientCertPolicy maps an endpoint name to the subject common-name
// patterns (regular expressions) a verified client certificate must match
// to use it; the key "*" applies to the guarded endpoints (those that
// issue, revoke, sign OCSP or CRLs, or generate keys) without an entry.
// Once a policy exists, a verified client is authorised for a guarded
// endpoint only through these entries. An empty list admits any verified
// client. Patterns are anchored (^…$) when given
// unanchored, with a warning (CFSSL matches them unanchored).
type ClientCertPolicy map[string][]string

// Options configures a Server.
type Options struct {
	// CAs are the issuing CAs by label; "" selects CAs.Default.
	CAs *authority.Set
	// Store backs revoke and certinfo's serial lookup, and is probed by
	// health. Nil disables revoke (404).
	Store sdk.CertStore
	// AuthKeys are HMAC keys by name, merged with each CA's configured
	// auth_keys (a name in both: this map wins). The key "revoke"
	// authenticates revoke's token wrapper.
	AuthKeys map[string]profile.AuthKey
	// ClientCertPolicy restricts verified mTLS clients per endpoint.
	ClientCertPolicy ClientCertPolicy
	// MaxBodyBytes caps request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger gets one line per request; nil discards.
	Logger hclog.Logger
	// Disabled lists endpoint names answered with 404.
	Disabled []string
	// Enabled turns on endpoints that are off by default (OptInEndpoints:
	// gencrl; docs/differences-from-cfssl.md, "Opt-in endpoints"). Naming
	// an endpoint that is on anyway is harmless;
	// Disabled wins over Enabled.
	Enabled []string
	// Dial, when set, enables certinfo's domain mode: it returns the
	// certificate chain (leaf first) served at host:port. It is expected
	// to apply the egress policy (docs/differences-from-cfssl.md, "Outbound
	// dials are opt-in"). Nil: domain lookups refused.
	Dial func(ctx context.Context, hostport string) ([]*x509.Certificate, error)
	// Bundle enables the bundle endpoint and sign's "bundle": true; nil:
	// bundle answers 404 and "bundle": true adds a message.
	Bundle *BundleOptions
	// HealthChecks are extra named probes for health (e.g. a keystore
	// ping); a failing one answers 503 naming it. Keep them cheap.
	HealthChecks map[string]func(ctx context.Context) error
	// nonces replaces the v2 nonce cache (tests: a small one); nil: a
	// cache of maxNonces.
	nonces *nonceCache
	// OnRevoke, when set, runs after a successful revoke (e.g. to re-sign
	// OCSP and schedule the CRL). Its error is logged, not returned.
	OnRevoke func(ctx context.Context, req sdk.RevokeRequest) error
	// Limits bound key generation (newkey, newcert, init_ca): MaxRSABits
	// and MaxKeyGenerations. Zero fields mean the defaults
	// (config.Limits.WithDefaults).
	Limits config.Limits
	// ClientCertRequired says the listener requires and verifies client
	// certificates (mutual TLS): that is authentication too, so the
	// tokenEndpoints then need a verified client or a token
	// (docs/differences-from-cfssl.md, "Authentication applies everywhere").
	ClientCertRequired bool
	// Scan, when set, enables scan and scaninfo (off otherwise:
	// docs/scanner-runner.md).
	Scan *ScanOptions
	// Observer, when set, sees every request (metrics, audit log).
	Observer Observer
}

// Server serves the CFSSL-compatible API.
type Server struct {
	opts     Options
	log      hclog.Logger
	maxBody  int64
	handlers map[string]endpoint
	// authKeys is, per CA label, the CA's auth keys merged with
	// Options.AuthKeys.
	authKeys map[string]map[string]profile.AuthKey
	// authOn: any authentication configured, so every tokenEndpoint needs
	// it (docs/differences-from-cfssl.md, "Authentication applies everywhere").
	authOn   bool
	policies map[string][]*regexp.Regexp
	limits   config.Limits
	// nonces remembers v2 token nonces for this server (one per daemon
	// process: nodes behind a load balancer do not share it, see README).
	nonces *nonceCache
	// keygen holds one token per key generation in progress
	// (limits.MaxKeyGenerations); a full channel means 429.
	keygen chan struct{}
	// genKey generates a key; tests replace it to hold generations.
	genKey func(*csr.KeyRequest) (crypto.Signer, error)
	// scans holds one token per scan in progress; scanMax bounds a
	// scan's timeout (scan.go).
	scans   chan struct{}
	scanMax time.Duration
}

// endpoint is one API endpoint.
type endpoint struct {
	method string
	fn     func(c *call) (*reply, error)
}

// New checks the options and prepares the endpoints. Errors: an unknown
// name in Disabled or ClientCertPolicy, an invalid pattern, an
// *OpenEndpointError.
func New(opts Options) (*Server, error) {
	s := &Server{opts: opts, log: opts.Logger, maxBody: opts.MaxBodyBytes, limits: opts.Limits.WithDefaults(), nonces: opts.nonces}
	if s.nonces == nil {
		s.nonces = newNonceCache(maxNonces)
	}
	s.keygen = make(chan struct{}, s.limits.MaxKeyGenerations)
	s.genKey = (*csr.KeyRequest).Generate
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.opts.CAs == nil {
		s.opts.CAs = &authority.Set{}
	}
	s.authKeys = map[string]map[string]profile.AuthKey{}
	s.authOn = len(opts.AuthKeys) > 0 || len(opts.ClientCertPolicy) > 0 || opts.ClientCertRequired
	for label, iss := range s.opts.CAs.CAs {
		keys := map[string]profile.AuthKey{}
		if cfg := iss.Profiles(); cfg != nil {
			maps.Copy(keys, cfg.AuthKeys)
		}
		s.authOn = s.authOn || len(keys) > 0
		maps.Copy(keys, opts.AuthKeys)
		s.authKeys[label] = keys
	}
	if err := s.compilePolicy(); err != nil {
		return nil, err
	}
	if err := s.initScan(); err != nil {
		return nil, err
	}
	all := map[string]endpoint{
		"sign":     {http.MethodPost, s.sign},
		"authsign": {http.MethodPost, s.authsign},
		"info":     {http.MethodPost, s.info},
		"newkey":   {http.MethodPost, s.newkey},
		"newcert":  {http.MethodPost, s.newcert},
		"init_ca":  {http.MethodPost, s.initCA},
		"certinfo": {http.MethodPost, s.certinfo},
		"revoke":   {http.MethodPost, s.revoke},
		"health":   {http.MethodGet, s.health},
		"crl":      {http.MethodGet, s.crl},
		"gencrl":   {http.MethodPost, s.gencrl},
		"ocspsign": {http.MethodPost, s.ocspsign},
		"bundle":   {http.MethodPost, s.bundleRequest},
		"scan":     {http.MethodGet, s.scan},
		"scaninfo": {http.MethodGet, s.scaninfo},
		"certadd":  {http.MethodPost, s.certadd},
	}
	all["renew"], all["renewal-info"] = endpoint{http.MethodPost, s.renew}, endpoint{http.MethodGet, s.renewalInfo}
	for _, name := range opts.Enabled {
		name = strings.TrimSpace(name)
		if _, ok := all[name]; !ok {
			return nil, fmt.Errorf("server: cannot enable unknown endpoint %q (known: %s)", name, strings.Join(Endpoints, " "))
		}
	}
	for _, name := range opts.Disabled {
		name = strings.TrimSpace(name)
		if _, ok := all[name]; !ok {
			return nil, fmt.Errorf("server: cannot disable unknown endpoint %q (known: %s)", name, strings.Join(Endpoints, " "))
		}
		delete(all, name)
	}
	for _, name := range OptInEndpoints {
		if !slices.ContainsFunc(opts.Enabled, func(n string) bool { return strings.TrimSpace(n) == name }) {
			delete(all, name)
		}
	}
	for _, name := range NeedsAuthEndpoints {
		if _, on := all[name]; on && !s.authOn {
			return nil, &OpenEndpointError{Endpoint: name}
		}
	}
	s.disableUnusable(all)
	s.handlers = all
	return s, nil
}

// disableUnusable removes endpoints whose prerequisites are missing
// (as in cfssl serve): issuing endpoints, crl and ocspsign need a CA, authsign a
// profile with an auth_key, revoke a certificate store. crl stays on
// without Options.Store (a CA may have its own certstore) and answers 400
// for a CA that has none.
func (s *Server) disableUnusable(all map[string]endpoint) {
	off := func(name, why string) {
		if _, ok := all[name]; ok {
			s.log.Warn("endpoint disabled", "endpoint", name, "reason", why)
			delete(all, name)
		}
	}
	if len(s.opts.CAs.CAs) == 0 {
		for _, n := range []string{"sign", "authsign", "info", "newcert", "crl", "ocspsign"} {
			off(n, "no CA configured")
		}
	} else if !s.anyAuthProfile() {
		off("authsign", "no profile has an auth_key")
	}
	if s.opts.Store == nil {
		off("revoke", "no certificate store configured")
	}
	if len(s.opts.CAs.CAs) == 0 {
		off("certadd", "no CA configured")
	}
	if s.opts.Bundle == nil || s.opts.Bundle.Pool == nil {
		off("bundle", "no trust block configured")
	}
	if s.opts.Scan == nil {
		delete(all, "scan") // off by default: not worth a warning
		delete(all, "scaninfo")
	}
}

// anyAuthProfile reports whether some CA profile names an auth_key.
func (s *Server) anyAuthProfile() bool {
	for _, iss := range s.opts.CAs.CAs {
		cfg := iss.Profiles()
		if cfg == nil {
			continue
		}
		if cfg.Default != nil && cfg.Default.AuthKey != "" {
			return true
		}
		for _, p := range cfg.Profiles {
			if p.AuthKey != "" {
				return true
			}
		}
	}
	return false
}

// compilePolicy compiles the client certificate patterns.
func (s *Server) compilePolicy() error {
	s.policies = map[string][]*regexp.Regexp{}
	for name, pats := range s.opts.ClientCertPolicy {
		if name != "*" && !slices.Contains(Endpoints, name) {
			return fmt.Errorf("server: client certificate policy for unknown endpoint %q", name)
		}
		s.policies[name] = []*regexp.Regexp{}
		for _, p := range pats {
			if !strings.HasPrefix(p, "^") || !strings.HasSuffix(p, "$") {
				s.log.Warn("unanchored client certificate pattern anchored", "endpoint", name, "pattern", p)
				p = "^(?:" + p + ")$"
			}
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("server: client certificate pattern %q for %s: %w", p, name, err)
			}
			s.policies[name] = append(s.policies[name], re)
		}
	}
	return nil
}

// Handler returns the API handler, serving BasePath+"<endpoint>".
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }
