// Package acme serves RFC 8555 (ACME) for the daemon's CAs: per `ca`
// block and profile with an acme block, a directory at
// /acme/CA/PROFILE/directory (and /acme/directory for the default CA's
// "acme" profile). Certificates are issued through the CA's one issuance
// path (core/ca: the profile's name policy, lint, the certstore record).
// Every piece of state (accounts, orders, authorizations, challenges,
// nonces, EAB keys, rate-limit windows) is a document in an sdk.DocStore,
// updated with compare-and-swap, so several daemon nodes on one
// PostgreSQL serve one ACME state. Challenges are validated in the
// background by core/acme/validation. See docs/acme.md.
package acme

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/acme/validation"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/server"
	"github.com/pkid/pkid/sdk"
)

// Prefix is where the ACME server is mounted.
const Prefix = "/acme/"

// DefaultProfile is the profile /acme/directory serves on the default CA.
const DefaultProfile = "acme"

// Perspectives validate one profile's challenges: the primary and the
// remote perspectives, of which Quorum must agree with the primary.
type Perspectives struct {
	Primary validation.Validator
	Remotes []validation.Validator
	Quorum  int
}

// Options configures a Server.
type Options struct {
	// CAs are the daemon's CAs; profiles with an enabled acme block are
	// served.
	CAs *authority.Set
	// Docs holds the ACME state.
	Docs sdk.DocStore
	// BaseURL, when set, is the scheme://host[:port] of URLs in answers;
	// "" derives it from each request (Host, TLS), which lets several
	// nodes behind different names share one state.
	BaseURL string
	// Perspectives builds the validators of a profile's acme block; nil
	// uses DefaultPerspectives.
	Perspectives func(pol *config.ACMEPolicy) (*Perspectives, error)
	// Revoked runs after a revocation (re-sign OCSP, schedule the CRL);
	// nil: nothing more.
	Revoked authority.Publisher
	// MaxValidations bounds validations in progress on this node
	// (default 32); beyond it a challenge answers rateLimited.
	MaxValidations int
	// Observer, when set, sees each issuance and revocation before its
	// reply leaves (a Commit error keeps the certificate from the client
	// and ends its order invalid, as the API's 503 does) and every ACME
	// request after its reply (Done): the daemon's audit log and metrics.
	// Endpoints are "acme-" and the resource (acme-finalize issues,
	// acme-revoke revokes); Client is "acme:" and the account ID once the
	// JWS verified.
	Observer server.Observer
	// Node names this node as a challenge's owner (default random).
	Node   string
	Logger hclog.Logger
	Now    func() time.Time
}

// Server is the ACME server. It is an http.Handler for paths under Prefix.
type Server struct {
	opts  Options
	docs  docs
	log   hclog.Logger
	now   func() time.Time
	dirs  map[string]*directory // "CA/PROFILE"
	sem   chan struct{}
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	node  string
	retry time.Duration // how long a validation owner may stay silent

	nonceMu       sync.Mutex
	nonceKeyBytes []byte

	inflightMu sync.Mutex
	inflight   map[string]int // validations in progress per account
}

// directory is one served CA/profile.
type directory struct {
	key    string // "CA/PROFILE"
	iss    *ca.Issuer
	prof   *profile.Profile
	pol    *config.ACMEPolicy
	persp  *Perspectives
	chains [][]*x509.Certificate // above the leaf: default first
}

// New prepares the server for every profile with an enabled acme block.
// Errors: a profile's validators or alternate chains cannot be set up.
func New(opts Options) (*Server, error) {
	if opts.Docs == nil {
		return nil, errors.New("acme: no document store: the CA's certstore must keep documents (sdk.DocStore)")
	}
	if opts.CAs == nil {
		opts.CAs = &authority.Set{}
	}
	s := &Server{opts: opts, docs: docs{opts.Docs}, log: opts.Logger, now: opts.Now, dirs: map[string]*directory{}, node: opts.Node}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.node == "" {
		s.node = newID()[:8]
	}
	n := opts.MaxValidations
	if n <= 0 {
		n = 32
	}
	s.sem = make(chan struct{}, n)
	s.inflight = map[string]int{}
	s.ctx, s.stop = context.WithCancel(context.Background())
	mk := opts.Perspectives
	if mk == nil {
		mk = DefaultPerspectives
	}
	for _, label := range opts.CAs.Labels() {
		iss := opts.CAs.CAs[label]
		cfg := iss.Profiles()
		for name, p := range cfg.Profiles {
			if p == nil || p.ACME == nil || !p.ACME.Enabled {
				continue
			}
			d := &directory{key: label + "/" + name, iss: iss, prof: p, pol: p.ACME}
			persp, err := mk(p.ACME)
			if err != nil {
				return nil, fmt.Errorf("acme: CA %q profile %q: %w", label, name, err)
			}
			d.persp = persp
			if d.chains, err = chains(opts.CAs, label, iss, p.ACME.AlternateChains); err != nil {
				return nil, fmt.Errorf("acme: CA %q profile %q: %w", label, name, err)
			}
			s.dirs[d.key] = d
		}
	}
	s.retry = 2 * time.Minute
	return s, nil
}

// Directories lists the served "CA/PROFILE" pairs.
func (s *Server) Directories() []string {
	var out []string
	for k := range s.dirs {
		out = append(out, k)
	}
	return out
}

// Close stops background validations and waits for them.
func (s *Server) Close() {
	s.stop()
	s.wg.Wait()
}

// chains returns the chains served above a leaf: the CA certificate and
// the configured chain without self-signed roots, then one per alternate
// file (its certificates, which must start with a certificate for the
// issuing CA's key, typically cross-signed).
func chains(set *authority.Set, label string, iss *ca.Issuer, alternates []string) ([][]*x509.Certificate, error) {
	def := []*x509.Certificate{iss.Certificate()}
	if b := set.Blocks[label]; b != nil && b.Chain != "" {
		certs, err := authority.ReadCertificates(b.Chain)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			if c.Equal(iss.Certificate()) || isSelfSigned(c) {
				continue
			}
			def = append(def, c)
		}
	}
	out := [][]*x509.Certificate{def}
	for _, f := range alternates {
		certs, err := authority.ReadCertificates(f)
		if err != nil {
			return nil, fmt.Errorf("alternate chain: %w", err)
		}
		first := certs[0]
		if !bytesEqual(first.RawSubjectPublicKeyInfo, iss.Certificate().RawSubjectPublicKeyInfo) || !bytesEqual(first.RawSubject, iss.Certificate().RawSubject) {
			return nil, fmt.Errorf("alternate chain %s: its first certificate is not for the issuing CA's name and key", f)
		}
		out = append(out, certs)
	}
	return out, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytesEqual(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// ServeHTTP routes /acme/... requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		writeProblem(w, newProblem(http.StatusNotFound, ProbMalformed, "not an ACME path"))
		return
	}
	rq := &request{s: s, r: r}
	if s.opts.Observer != nil {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		w = sw
		start := time.Now()
		defer func() { s.opts.Observer.Done(r.Context(), rq.event(sw.status, time.Since(start))) }()
	}
	if rest == "directory" {
		rest = s.opts.CAs.Default + "/" + DefaultProfile + "/directory"
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 {
		writeProblem(w, newProblem(http.StatusNotFound, ProbMalformed, "no such ACME resource"))
		return
	}
	d := s.dirs[parts[0]+"/"+parts[1]]
	if d == nil {
		writeProblem(w, newProblem(http.StatusNotFound, ProbMalformed, "no ACME directory for CA %q profile %q", parts[0], parts[1]))
		return
	}
	rq.d, rq.w, rq.base, rq.res = d, w, s.base(r)+Prefix+d.key+"/", parts[2]
	rq.serve(parts[2], parts[3:])
}

// statusWriter remembers the status written, for the Observer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// endpoints name ACME resources for the Observer: a fixed set, so a
// hostile path cannot mint metric labels.
var endpoints = map[string]string{
	"directory": "acme-directory", "new-nonce": "acme-nonce", "renewal-info": "acme-renewal-info",
	"new-account": "acme-account", "account": "acme-account", "key-change": "acme-key-change",
	"revoke-cert": "acme-revoke", "new-order": "acme-order", "order": "acme-order",
	"authz": "acme-authz", "chall": "acme-challenge", "cert": "acme-cert",
}

// event is the request as the Observer sees it.
func (rq *request) event(status int, d time.Duration) *server.Event {
	ev := &server.Event{Endpoint: "acme", Remote: rq.r.RemoteAddr, Status: status, Duration: d, Err: rq.err}
	if e, ok := endpoints[rq.res]; ok {
		ev.Endpoint = e
		if rq.res == "order" && rq.finalizing {
			ev.Endpoint = "acme-finalize"
		}
	}
	if rq.d != nil {
		ev.Label, ev.Profile = rq.d.iss.Label(), rq.d.prof.Name
	}
	if rq.authed && rq.acct != nil {
		ev.Client = "acme:" + rq.acct.ID
	} else if rq.authed && rq.jwk != nil {
		ev.Client = "acme:certificate key"
	}
	return ev
}

// commit runs the Observer's Commit for an issuance or a revocation.
func (rq *request) commit(ctx context.Context, issued *x509.Certificate, revoked *authority.Revoked) error {
	if rq.s.opts.Observer == nil {
		return nil
	}
	ev := rq.event(http.StatusOK, 0)
	ev.Issued, ev.Revoked = issued, revoked
	return rq.s.opts.Observer.Commit(ctx, ev)
}

// base is scheme://host of this request.
func (s *Server) base(r *http.Request) string {
	if s.opts.BaseURL != "" {
		return strings.TrimRight(s.opts.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// request is one ACME request in progress.
type request struct {
	s    *Server
	d    *directory
	w    http.ResponseWriter
	r    *http.Request
	base string // URL of the directory's resources, ending in "/"
	// set by authenticate
	payload []byte
	acct    *Account
	jwk     *jose.JSONWebKey // the key that signed (jwk requests)
	authed  bool             // the JWS verified with acct's key or jwk
	// for the Observer
	res        string // the resource
	finalizing bool
	err        error // the problem answered, if any
}

// serve dispatches one resource.
func (rq *request) serve(res string, args []string) {
	rq.w.Header().Set("Link", `<`+rq.base+`directory>;rel="index"`)
	rq.w.Header().Set("Cache-Control", "no-store")
	var err error
	switch {
	case res == "directory" && len(args) == 0 && rq.r.Method == http.MethodGet:
		err = rq.directory()
	case res == "new-nonce" && len(args) == 0 && (rq.r.Method == http.MethodGet || rq.r.Method == http.MethodHead):
		err = rq.newNonce()
	case res == "renewal-info" && len(args) == 1 && rq.r.Method == http.MethodGet:
		err = rq.renewalInfo(args[0])
	case rq.r.Method != http.MethodPost:
		err = newProblem(http.StatusMethodNotAllowed, ProbMalformed, "%s is not allowed here", rq.r.Method)
	default:
		err = rq.post(res, args)
	}
	if err != nil {
		var p *problem
		if !errors.As(err, &p) {
			p = storeProblem(err)
		}
		if p.Status >= 500 {
			rq.s.log.Error("acme request failed", "path", rq.r.URL.Path, "problem", p.Type, "error", p.cause)
		}
		if rq.r.Method == http.MethodPost {
			rq.addNonce()
		}
		rq.err = p
		writeProblem(rq.w, p)
	}
}

// post authenticates a JWS request and dispatches it.
func (rq *request) post(res string, args []string) error {
	if ct := rq.r.Header.Get("Content-Type"); ct != "application/jose+json" {
		return newProblem(http.StatusUnsupportedMediaType, ProbMalformed, "Content-Type must be application/jose+json, not %q", ct)
	}
	body, err := io.ReadAll(io.LimitReader(rq.r.Body, MaxRequestBytes+1))
	if err != nil {
		return malformed("reading the body: %v", err)
	}
	one := func(h func(string) error) error {
		if len(args) != 1 {
			return newProblem(http.StatusNotFound, ProbMalformed, "no such ACME resource")
		}
		return h(args[0])
	}
	switch {
	case res == "new-account" && len(args) == 0:
		return rq.authenticate(body, keyJWK, rq.newAccount)
	case res == "key-change" && len(args) == 0:
		return rq.authenticate(body, keyKid, rq.keyChange)
	case res == "revoke-cert" && len(args) == 0:
		return rq.authenticate(body, keyEither, rq.revokeCert)
	case res == "new-order" && len(args) == 0:
		return rq.authenticate(body, keyKid, rq.newOrder)
	case res == "account" && len(args) == 2 && args[1] == "orders":
		return rq.authenticate(body, keyKid, func() error { return rq.orders(args[0]) })
	case res == "account":
		return one(func(id string) error { return rq.authenticate(body, keyKid, func() error { return rq.account(id) }) })
	case res == "order" && len(args) == 2 && args[1] == "finalize":
		rq.finalizing = true
		return rq.authenticate(body, keyKid, func() error { return rq.finalize(args[0]) })
	case res == "order":
		return one(func(id string) error { return rq.authenticate(body, keyKid, func() error { return rq.getOrder(id) }) })
	case res == "authz":
		return one(func(id string) error { return rq.authenticate(body, keyKid, func() error { return rq.authz(id) }) })
	case res == "chall" && len(args) == 2:
		return rq.authenticate(body, keyKid, func() error { return rq.challenge(args[0], args[1]) })
	case res == "cert" && (len(args) == 1 || len(args) == 2):
		alt := ""
		if len(args) == 2 {
			alt = args[1]
		}
		return rq.authenticate(body, keyKid, func() error { return rq.certificate(args[0], alt) })
	}
	return newProblem(http.StatusNotFound, ProbMalformed, "no such ACME resource")
}

// reply sends v as JSON with status.
func (rq *request) reply(status int, v any) error {
	rq.addNonce()
	rq.w.Header().Set("Content-Type", "application/json")
	rq.w.WriteHeader(status)
	return json.NewEncoder(rq.w).Encode(v)
}

// directory serves the directory object.
func (rq *request) directory() error {
	meta := map[string]any{"externalAccountRequired": rq.d.pol.EABRequired}
	if len(rq.d.pol.CAAIdentities) > 0 {
		meta["caaIdentities"] = rq.d.pol.CAAIdentities
	}
	rq.w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(rq.w).Encode(map[string]any{
		"newNonce":    rq.base + "new-nonce",
		"newAccount":  rq.base + "new-account",
		"newOrder":    rq.base + "new-order",
		"revokeCert":  rq.base + "revoke-cert",
		"keyChange":   rq.base + "key-change",
		"renewalInfo": rq.base + "renewal-info",
		"meta":        meta,
	})
}

// nonceLifetime bounds how long an unused nonce is accepted.
const nonceLifetime = time.Hour

// newNonce serves newNonce (RFC 8555 section 7.2).
func (rq *request) newNonce() error {
	if !rq.addNonce() {
		return storeProblem(errors.New("nonce store failed"))
	}
	if rq.r.Method == http.MethodGet {
		rq.w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// addNonce sets Replay-Nonce to a fresh nonce. Issuing one writes
// nothing (newNonce is unauthenticated): see nonceKey.
func (rq *request) addNonce() bool {
	if rq.w.Header().Get("Replay-Nonce") != "" {
		return true
	}
	key, err := rq.s.nonceKey(rq.r.Context())
	if err != nil {
		rq.s.log.Error("acme: the nonce key", "error", err)
		return false
	}
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(rq.s.now().Unix()))
	_, _ = rand.Read(b[8:24])
	mac := hmac.New(sha256.New, key)
	mac.Write(b[:24])
	copy(b[24:], mac.Sum(nil))
	rq.w.Header().Set("Replay-Nonce", base64.RawURLEncoding.EncodeToString(b[:]))
	return true
}

// A nonce is its issue time (8 bytes, Unix seconds), 16 random bytes and
// 16 bytes of HMAC-SHA256 over them with the directory-wide nonce key.
const nonceLen = 40

// nonceKeyID is the acme-nonce-key document every node shares.
const nonceKeyID = "v1"

// nonceKeyDoc is the acme-nonce-key document.
type nonceKeyDoc struct {
	Key []byte `json:"key"`
}

// nonceKey returns the HMAC key of nonces, shared by every node through
// the store: the first node creates it (compare-and-swap), the others
// read it; each caches it.
func (s *Server) nonceKey(ctx context.Context) ([]byte, error) {
	s.nonceMu.Lock()
	defer s.nonceMu.Unlock()
	if s.nonceKeyBytes != nil {
		return s.nonceKeyBytes, nil
	}
	var d nonceKeyDoc
	_, err := s.docs.get(ctx, KindNonceKey, nonceKeyID, &d)
	if errors.Is(err, sdk.ErrNotFound) {
		d.Key = make([]byte, 32)
		_, _ = rand.Read(d.Key)
		_, err = s.docs.put(ctx, KindNonceKey, nonceKeyID, 0, d, nil, timeZero)
		if errors.Is(err, sdk.ErrAlreadyExists) {
			_, err = s.docs.get(ctx, KindNonceKey, nonceKeyID, &d)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(d.Key) < 32 {
		return nil, fmt.Errorf("acme: the nonce key document holds %d bytes", len(d.Key))
	}
	s.nonceKeyBytes = d.Key
	return d.Key, nil
}

// consumeNonce checks that n is a nonce of this server, issued less than
// nonceLifetime ago, and records its use (compare-and-swap create of its
// acme-nonce document, which expires with the nonce): exactly one request
// can use it, on any node. Anything else is badNonce.
func (rq *request) consumeNonce(n string) error {
	bad := func(why string) error { return newProblem(http.StatusBadRequest, ProbBadNonce, "%s", why) }
	if n == "" {
		return bad("the JWS header has no nonce")
	}
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != nonceLen {
		return bad("the nonce is not one of this server's")
	}
	key, err := rq.s.nonceKey(rq.r.Context())
	if err != nil {
		return storeProblem(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(b[:24])
	if !hmac.Equal(mac.Sum(nil)[:nonceLen-24], b[24:]) {
		return bad("the nonce is not one of this server's")
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	now := rq.s.now()
	if now.Sub(issued) > nonceLifetime || issued.Sub(now) > time.Minute {
		return bad("the nonce is expired")
	}
	_, err = rq.s.docs.put(rq.r.Context(), KindNonce, n, 0, struct{}{}, nil, issued.Add(nonceLifetime+time.Minute))
	switch {
	case errors.Is(err, sdk.ErrAlreadyExists):
		return bad("the nonce was already used")
	case err != nil:
		return storeProblem(err)
	}
	return nil
}
