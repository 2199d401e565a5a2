// Package forward makes a daemon forward the requests of CFSSL forwarding
// profiles ("remote", "auth_remote") to the remote CA they name, as CFSSL's
// remote signer does: sign, authsign, info and newcert of such a profile go
// to the remote (authsign with the profile's HMAC key for auth_remote),
// everything else goes to the local API. The daemon's own policy (Guard)
// holds before anything is forwarded. docs/differences-from-cfssl.md ("Forwarding
// errors name the remote") says where the replies differ from CFSSL's.
package forward

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/client"
)

// DefaultTimeout bounds one forwarded request, failover included.
const DefaultTimeout = 30 * time.Second

// DefaultMaxBodyBytes caps a request body read for forwarding.
const DefaultMaxBodyBytes = 1 << 20

const basePath = "/api/v1/cfssl/"

// Remote is where one forwarding profile goes, with the profile's own
// local authentication.
type Remote struct {
	// Name is the remote's name in the configuration's remotes.
	Name string
	// Client reaches its servers in failover order.
	Client *client.Client
	// AuthKey, when set (auth_remote, remote_auth_key), sends signing
	// requests through authsign under this raw HMAC key.
	AuthKey []byte
	// LocalKeys are the profile's own token keys (its auth_key and
	// prev_auth_key): when set, a caller must authenticate to this daemon
	// with a token for the profile before anything is forwarded.
	LocalKeys [][]byte
	// ReplayProtection: the profile accepts only v2 tokens.
	ReplayProtection bool
}

// Guard is the daemon's own authorization, applied before a request
// leaves (core/server.Server implements it).
type Guard interface {
	// AuthorizeForward vets r (endpoint and its body) for a forwarding
	// profile whose local token keys are keys, and returns the inner
	// request (the body, or the request inside a token wrapper).
	AuthorizeForward(r *http.Request, endpoint string, body []byte, keys [][]byte, replayProtection bool) ([]byte, error)
	// GenerateKey makes a forwarded newcert's key and CSR from its
	// request section under the daemon's key limits.
	GenerateKey(request []byte) (keyPEM, csrPEM []byte, err error)
	// ErrorStatus renders an error of the two methods above.
	ErrorStatus(err error) (status, code int, msg string)
}

// Options configures a Handler.
type Options struct {
	// Profiles maps a profile name to the remote it forwards to; the key
	// "default" is the default profile (also chosen by an empty name).
	// Used when Lookup is nil.
	Profiles map[string]*Remote
	// Lookup, when set, replaces Profiles: the remote a request's label
	// and profile forward to, nil if they do not forward.
	Lookup func(label, profile string) *Remote
	// Local is true when the next handler has a CA of its own: requests
	// that do not forward then go to it. Without one, the handler answers
	// them itself (unknown profile, unparsable request).
	Local bool
	// Timeout bounds one forwarded request (0: DefaultTimeout).
	Timeout time.Duration
	// MaxBodyBytes caps request bodies (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Log gets one line per failed forward; nil discards.
	Log hclog.Logger
	// Authorize, when set, vets the caller of a forwarded request (e.g.
	// the -mutual-tls-cn pattern); its error is a 403 with its text.
	// Requests that are not forwarded are the next handler's to vet.
	Authorize func(r *http.Request) error
	// Guard, when set, applies the daemon's own policy (client
	// certificate policy, the profile's token keys) to every forwarded
	// request before it leaves. Without one, a profile with LocalKeys or
	// a token-carrying request is refused: nothing could verify it.
	Guard Guard
}

// Handler forwards sign, authsign, info and newcert requests of
// forwarding profiles and passes every other request to the next handler.
type Handler struct {
	next http.Handler
	opts Options
}

// New returns a Handler in front of next.
func New(next http.Handler, opts Options) *Handler {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Log == nil {
		opts.Log = hclog.NewNullLogger()
	}
	return &Handler{next: next, opts: opts}
}

// remote returns the remote label and profile forward to, nil if none.
func (h *Handler) remote(label, profile string) *Remote {
	if h.opts.Lookup != nil {
		return h.opts.Lookup(label, profile)
	}
	if profile == "" {
		profile = "default"
	}
	return h.opts.Profiles[profile]
}

// forwarded are the endpoints a forwarding profile sends to its remote.
var forwarded = map[string]bool{"sign": true, "authsign": true, "info": true, "newcert": true}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint, ok := strings.CutPrefix(r.URL.Path, basePath)
	if !ok || r.Method != http.MethodPost || !forwarded[endpoint] {
		h.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.opts.MaxBodyBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "reading the request: "+err.Error())
		return
	}
	if int64(len(body)) > h.opts.MaxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body larger than %d bytes", h.opts.MaxBodyBytes))
		return
	}
	// The next handler reads the body again.
	passOn := func() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		h.next.ServeHTTP(w, r)
	}
	label, profile, wrapped, err := probe(endpoint, body)
	if err != nil {
		if h.opts.Local || endpoint == "authsign" {
			passOn()
			return
		}
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, fmt.Sprintf("Unable to parse %s request: %v", endpoint, err))
		return
	}
	rem := h.remote(label, profile)
	if rem == nil {
		h.notForwarded(w, profile, passOn)
		return
	}
	if h.opts.Authorize != nil {
		if err := h.opts.Authorize(r); err != nil {
			writeError(w, http.StatusForbidden, http.StatusForbidden, fmt.Sprintf("%v for %s", err, endpoint))
			return
		}
	}
	// pkid's own policy holds before anything leaves: a refused request
	// is never forwarded.
	inner := body
	switch {
	case h.opts.Guard != nil:
		if inner, err = h.opts.Guard.AuthorizeForward(r, endpoint, body, rem.LocalKeys, rem.ReplayProtection); err != nil {
			status, code, msg := h.opts.Guard.ErrorStatus(err)
			writeError(w, status, code, msg)
			return
		}
	case endpoint == "authsign" || wrapped:
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "no authentication provider")
		return
	case len(rem.LocalKeys) > 0:
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "authentication required")
		return
	}
	switch endpoint {
	case "sign", "authsign":
		h.sign(w, r.Context(), rem, endpoint, inner)
	case "newcert":
		h.newcert(w, r, rem, inner)
	default:
		h.info(w, r.Context(), rem, inner)
	}
}

// probe finds the label and profile of a request, inside its token
// wrapper if it has one (authsign always does). An error: the request is
// not parsable, so it is not forwarded.
func probe(endpoint string, body []byte) (label, profile string, wrapped bool, err error) {
	var p struct {
		Token   *string `json:"token"`
		Request json.RawMessage
		Label   string `json:"label"`
		Profile string `json:"profile"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return "", "", false, err
	}
	var s string
	if endpoint == "authsign" || (endpoint != "info" && p.Token != nil && json.Unmarshal(p.Request, &s) == nil) {
		if p.Token == nil {
			return "", "", false, errors.New("no token")
		}
		if err := json.Unmarshal(p.Request, &s); err != nil {
			return "", "", false, errors.New("request: want a base64 string")
		}
		inner, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return "", "", false, fmt.Errorf("request: %w", err)
		}
		p.Label, p.Profile = "", ""
		if err := json.Unmarshal(inner, &p); err != nil {
			return "", "", false, err
		}
		return p.Label, p.Profile, true, nil
	}
	return p.Label, p.Profile, false, nil
}

// signBody is a sign request as forwarded: CFSSL's fields plus hostname,
// which replaces hosts (as on a local sign).
type signBody struct {
	client.SignRequest
	Hostname string `json:"hostname"`
}

func (h *Handler) sign(w http.ResponseWriter, ctx context.Context, rem *Remote, endpoint string, body []byte) {
	var req signBody
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "Unable to parse sign request: "+err.Error())
		return
	}
	if strings.TrimSpace(req.Request) == "" {
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "missing parameter 'certificate_request'")
		return
	}
	sr := req.SignRequest
	if req.Hostname != "" {
		sr.Hosts = csr.SplitHostname(req.Hostname)
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()
	var cert string
	var err error
	if rem.AuthKey != nil {
		cert, err = rem.Client.AuthSign(ctx, sr, rem.AuthKey)
	} else {
		cert, err = rem.Client.Sign(ctx, sr)
	}
	if err != nil {
		h.forwardError(w, rem, endpoint, err)
		return
	}
	writeResult(w, map[string]string{"certificate": cert})
}

func (h *Handler) info(w http.ResponseWriter, ctx context.Context, rem *Remote, body []byte) {
	var req struct {
		Label   string `json:"label"`
		Profile string `json:"profile"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "Unable to parse info request: "+err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()
	res, err := rem.Client.Info(ctx, req.Label, req.Profile)
	if err != nil {
		h.forwardError(w, rem, "info", err)
		return
	}
	if res.Usages == nil {
		res.Usages = []string{}
	}
	writeResult(w, struct {
		Certificate string   `json:"certificate"`
		Usages      []string `json:"usages"`
		Expiry      string   `json:"expiry"`
	}{res.Certificate, res.Usages, res.Expiry})
}

// notForwarded handles a profile that does not forward: the local CA
// takes it, or without one it is an unknown profile (pkid never falls
// back to the default: docs/differences-from-cfssl.md, "Unknown profiles
// are errors").
func (h *Handler) notForwarded(w http.ResponseWriter, profile string, passOn func()) {
	if h.opts.Local {
		passOn()
		return
	}
	writeError(w, http.StatusBadRequest, 5400, fmt.Sprintf("Unknown policy profile %q", profile))
}

// forwardError answers a failed forward: the remote's own 4xx status is
// passed on, an unreachable or failing remote is 502; the message names
// the remote and carries its reply.
func (h *Handler) forwardError(w http.ResponseWriter, rem *Remote, endpoint string, err error) {
	status, code := http.StatusBadGateway, client.CodeIO
	msg := err.Error()
	var ce *client.Error
	if errors.As(err, &ce) {
		code = ce.Code
		msg = strings.TrimPrefix(msg, "remote "+ce.Remote+": ")
		msg = fmt.Sprintf("remote %q (%s): %s", rem.Name, ce.Remote, msg)
		if ce.Status >= 400 && ce.Status < 500 {
			status = ce.Status
		}
	} else {
		msg = fmt.Sprintf("remote %q: %s", rem.Name, msg)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		msg += fmt.Sprintf(" (no answer within %s)", h.opts.Timeout)
	}
	h.opts.Log.Warn("forwarding failed", "endpoint", endpoint, "remote", rem.Name, "error", msg)
	writeError(w, status, code, msg)
}

type message struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type envelope struct {
	Success  bool      `json:"success"`
	Result   any       `json:"result"`
	Errors   []message `json:"errors"`
	Messages []message `json:"messages"`
}

func writeResult(w http.ResponseWriter, result any) {
	write(w, http.StatusOK, envelope{Success: true, Result: result, Errors: []message{}, Messages: []message{}})
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	write(w, status, envelope{Errors: []message{{code, msg}}, Messages: []message{}})
}

func write(w http.ResponseWriter, status int, env envelope) {
	b, err := json.Marshal(env)
	if err != nil { // only plain strings and maps: cannot happen
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
