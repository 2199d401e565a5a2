// Package forward makes a daemon forward the requests of CFSSL forwarding
// profiles ("remote", "auth_remote") to the remote CA they name, as CFSSL's
// remote signer does: sign and info of such a profile go to the remote
// (authsign with the profile's HMAC key for auth_remote), everything else
// goes to the local API. docs/differences-from-cfssl.md ("Forwarding
// errors name the remote") says where the replies differ from CFSSL's.
package forward

import (
	"bytes"
	"context"
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

// Remote is one forwarding destination.
type Remote struct {
	// Name is the remote's name in the configuration's remotes.
	Name string
	// Client reaches its servers in failover order.
	Client *client.Client
	// AuthKey, when set (auth_remote), sends signing requests through
	// authsign under this raw HMAC key.
	AuthKey []byte
}

// Options configures a Handler.
type Options struct {
	// Profiles maps a profile name to the remote it forwards to; the key
	// "default" is the default profile (also chosen by an empty name).
	Profiles map[string]*Remote
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
}

// Handler forwards sign, info and newcert requests of forwarding profiles
// and passes every other request to the next handler.
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

// remote returns the remote profile name forwards to, nil if none.
func (h *Handler) remote(profile string) *Remote {
	if profile == "" {
		profile = "default"
	}
	return h.opts.Profiles[profile]
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint, ok := strings.CutPrefix(r.URL.Path, basePath)
	if !ok || r.Method != http.MethodPost || (endpoint != "sign" && endpoint != "info" && endpoint != "newcert") {
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
	if h.opts.Authorize != nil {
		// Only a forwarded request is vetted here: the next handler has
		// its own checks (and its own answer) for the rest.
		if err := h.authorizeForwarded(r, endpoint, body); err != nil {
			writeError(w, http.StatusForbidden, http.StatusForbidden, err.Error())
			return
		}
	}
	switch endpoint {
	case "sign":
		h.sign(w, r.Context(), body, passOn)
	case "newcert":
		h.newcert(w, r, body, passOn)
	default:
		h.info(w, r.Context(), body, passOn)
	}
}

// authorizeForwarded applies Options.Authorize to a request whose profile
// forwards (a body that does not parse is not forwarded).
func (h *Handler) authorizeForwarded(r *http.Request, endpoint string, body []byte) error {
	var probe struct {
		Profile string `json:"profile"`
	}
	if json.Unmarshal(body, &probe) != nil || h.remote(probe.Profile) == nil {
		return nil
	}
	if err := h.opts.Authorize(r); err != nil {
		return fmt.Errorf("%v for %s", err, endpoint)
	}
	return nil
}

// signBody is a sign request as forwarded: CFSSL's fields plus hostname,
// which replaces hosts (as on a local sign).
type signBody struct {
	client.SignRequest
	Hostname string `json:"hostname"`
}

func (h *Handler) sign(w http.ResponseWriter, ctx context.Context, body []byte, passOn func()) {
	var probe struct {
		Token   *string `json:"token"`
		Request *string `json:"request"`
	}
	if json.Unmarshal(body, &probe) == nil && probe.Token != nil && probe.Request != nil {
		passOn() // pkid's token wrapper: the local API's business
		return
	}
	var req signBody
	if err := json.Unmarshal(body, &req); err != nil {
		if h.opts.Local {
			passOn()
			return
		}
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "Unable to parse sign request: "+err.Error())
		return
	}
	rem := h.remote(req.Profile)
	if rem == nil {
		h.notForwarded(w, req.Profile, passOn)
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
		h.forwardError(w, rem, "sign", err)
		return
	}
	writeResult(w, map[string]string{"certificate": cert})
}

func (h *Handler) info(w http.ResponseWriter, ctx context.Context, body []byte, passOn func()) {
	var req struct {
		Label   string `json:"label"`
		Profile string `json:"profile"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		if h.opts.Local {
			passOn()
			return
		}
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "Unable to parse info request: "+err.Error())
		return
	}
	rem := h.remote(req.Profile)
	if rem == nil {
		h.notForwarded(w, req.Profile, passOn)
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
