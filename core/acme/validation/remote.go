package validation

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Limits of the validator protocol (POST /validate, JSON Request in,
// JSON View out).
const (
	MaxRequestBody  = 64 << 10
	MaxResponseBody = 64 << 10
	// MaxConcurrent validations one validator runs; more get 503.
	MaxConcurrent = 64
)

// Checker is a perspective that can tell whether it could validate now
// (its resolver answers). Check returns why not.
type Checker interface {
	Check(ctx context.Context) error
}

// healthTimeout bounds a /health check.
const healthTimeout = 3 * time.Second

// NewHandler serves a perspective over HTTP: POST /validate takes a
// JSON Request and answers the JSON View of v; GET /health answers
// {"status":"ok"}, or 503 {"status":"unhealthy"} when v is a Checker
// whose check fails. Bad input gets a 4xx application/problem+json body.
// Authentication (mTLS) is the server's job, not the handler's.
func NewHandler(v Validator) http.Handler {
	sem := make(chan struct{}, MaxConcurrent)
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeProblem(w, http.StatusMethodNotAllowed, ProblemMalformed, "use GET")
			return
		}
		if c, ok := v.(Checker); ok {
			ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
			defer cancel()
			if err := c.Check(ctx); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, "application/json", map[string]string{"status": "unhealthy", "detail": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/validate", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeProblem(w, http.StatusMethodNotAllowed, ProblemMalformed, "use POST")
			return
		}
		if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
			writeProblem(w, http.StatusUnsupportedMediaType, ProblemMalformed, "the body must be application/json")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeProblem(w, http.StatusRequestEntityTooLarge, ProblemMalformed, fmt.Sprintf("the body is over %d bytes", MaxRequestBody))
				return
			}
			writeProblem(w, http.StatusBadRequest, ProblemMalformed, "reading the body: "+err.Error())
			return
		}
		var req Request
		if err := decodeStrict(body, &req); err != nil {
			writeProblem(w, http.StatusBadRequest, ProblemMalformed, "the body is not a validation request: "+err.Error())
			return
		}
		if p := checkRequest(req); p != nil {
			writeProblem(w, http.StatusBadRequest, p.Type, p.Detail)
			return
		}
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		default:
			writeProblem(w, http.StatusServiceUnavailable, ProblemServerInternal, "too many validations in progress")
			return
		}
		writeJSON(w, http.StatusOK, "application/json", v.Validate(r.Context(), req))
	})
	return mux
}

// decodeStrict decodes one JSON value and nothing after it.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, ctype string, v any) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, typ, detail string) {
	writeJSON(w, status, "application/problem+json", Problem{Type: typ, Detail: detail})
}

// Remote is a perspective run by a `pkid validator` process, asked over
// HTTPS with the daemon's client certificate. It is safe for concurrent
// use.
type Remote struct {
	name, url string
	client    *http.Client
}

// NewRemote returns the perspective name served at url (the validator's
// base URL, https://host:port; requests go to url + "/validate"). tlsCfg
// carries the client certificate and the roots that verify the
// validator.
func NewRemote(name, url string, tlsCfg *tls.Config) *Remote {
	tr := &http.Transport{
		Proxy:                  nil,
		TLSClientConfig:        tlsCfg.Clone(),
		MaxResponseHeaderBytes: 16 << 10,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &Remote{name: name, url: strings.TrimSuffix(url, "/") + "/validate", client: &http.Client{
		Transport: tr,
		// A validator never redirects.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Name is the perspective's name.
func (r *Remote) Name() string { return r.name }

// remoteTimeout bounds a call when ctx has no deadline: the validator's
// own timeout plus the round trip.
const remoteTimeout = DefaultTimeout + 5*time.Second

// Validate asks the validator. A validator that cannot be reached,
// refuses the request or answers something other than a consistent View
// yields a View with OK false (problem serverInternal) naming it.
func (r *Remote) Validate(ctx context.Context, req Request) View {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, remoteTimeout)
		defer cancel()
	}
	fail := func(format string, args ...any) View {
		return View{Perspective: r.name, Problem: problem(ProblemServerInternal, "perspective %s: %s", r.name, fmt.Sprintf(format, args...))}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fail("encoding the request: %v", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return fail("%v", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return fail("unreachable: timed out")
		}
		return fail("unreachable: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return fail("reading the answer: %v", err)
	}
	if len(data) > MaxResponseBody {
		return fail("answer over %d bytes", MaxResponseBody)
	}
	if resp.StatusCode != http.StatusOK {
		var p Problem
		if json.Unmarshal(data, &p) == nil && p.Detail != "" {
			return fail("HTTP %d: %s", resp.StatusCode, p.Detail)
		}
		return fail("HTTP %d: %s", resp.StatusCode, excerpt(data))
	}
	var v View
	if err := decodeStrict(data, &v); err != nil {
		return fail("answered garbage: %v", err)
	}
	if v.OK == (v.Problem != nil) {
		return fail("answered an inconsistent view (ok %v, problem %v)", v.OK, v.Problem != nil)
	}
	if why := evidenceProblem(req, v); why != "" {
		return fail("answered ok without evidence: %s", why)
	}
	// The daemon names its perspectives; a validator cannot pose as another.
	if v.Perspective != "" && v.Perspective != r.name {
		if v.Problem != nil {
			v.Problem.Detail = fmt.Sprintf("(validator calls itself %q) %s", v.Perspective, v.Problem.Detail)
		}
	}
	v.Perspective = r.name
	return v
}

// Ensure the perspectives implement Validator.
var (
	_ Validator = (*Local)(nil)
	_ Validator = (*Remote)(nil)
)

// evidenceProblem says why an accepting view is not consistent with req
// ("" when it is): http-01 and tls-alpn-01 connect somewhere, so an
// acceptance lists the IP addresses contacted, and for an ip identifier
// the first of them is that address (Local dials it before following any
// redirect).
func evidenceProblem(req Request, v View) string {
	if !v.OK || (req.Type != HTTP01 && req.Type != TLSALPN01) {
		return ""
	}
	if len(v.Addresses) == 0 {
		return "no address contacted"
	}
	for _, a := range v.Addresses {
		if _, err := netip.ParseAddr(a); err != nil {
			return fmt.Sprintf("%q is not an IP address", a)
		}
	}
	if req.Identifier.Type == "ip" {
		first, _ := netip.ParseAddr(v.Addresses[0])
		want, err := netip.ParseAddr(req.Identifier.Value)
		if err != nil || first.Unmap() != want.Unmap() {
			return fmt.Sprintf("contacted %s first, not the identifier %s", v.Addresses[0], req.Identifier.Value)
		}
	}
	return ""
}
