package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// call is one request in progress.
type call struct {
	r        *http.Request
	id       string
	endpoint string
	body     []byte
	// label and profile are logged once known.
	label, profile string
	// clientOK: a verified client certificate authorises this request
	// (checkClientCert).
	clientOK bool
	// arg is the path element after the endpoint (renewal-info's certID).
	arg string
	obs observed // for Options.Observer
}

// serve routes, runs and logs one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{r: r, id: requestID()}
	w.Header().Set("X-Request-Id", c.id)
	announceAuth(w)
	status, code, errText := s.run(w, c)
	defer s.done(c, status, start)
	// Request-supplied values are escaped and bounded: a newline in a
	// profile must not start a forged line of the text log.
	fields := []any{
		"method", logSafe(r.Method), "path", logSafe(r.URL.Path), "endpoint", c.endpoint,
		"label", logSafe(c.label), "profile", logSafe(c.profile), "status", status, "code", code,
		"duration", time.Since(start), "remote", logSafe(r.RemoteAddr), "request_id", c.id,
	}
	switch {
	case status >= 500:
		s.log.Error("request", append(fields, "error", logSafeN(errText, maxLoggedError))...)
	case status >= 400:
		s.log.Info("request", append(fields, "error", logSafeN(errText, maxLoggedError))...)
	default:
		s.log.Info("request", fields...)
	}
}

// run answers c and returns what was sent, for the log line.
func (s *Server) run(w http.ResponseWriter, c *call) (status, code int, errText string) {
	fail := func(err error) (int, int, string) {
		c.obs.err = err
		st, cd, msg, internal := classify(err)
		logText := msg
		if st == http.StatusServiceUnavailable {
			cause := err
			if ae := (*apiError)(nil); errors.As(err, &ae) && ae.cause != nil {
				cause = ae.cause
			}
			logText = msg + ": " + cause.Error() // the cause, e.g. "database or disk is full"
		}
		if internal {
			logText = err.Error()
			msg = fmt.Sprintf("internal server error (request id %s)", c.id)
		}
		if st == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		}
		writeEnvelope(w, st, envelope{Errors: []message{{Code: cd, Message: msg}}})
		return st, cd, logText
	}
	name, ok := strings.CutPrefix(c.r.URL.Path, BasePath)
	if n, arg, found := strings.Cut(name, "/"); found && n == "renewal-info" { // RFC 9773's path form
		name, c.arg = n, arg
	}
	ep, known := s.handlers[name]
	if !ok || !known {
		return fail(requestError(http.StatusNotFound, "%s not found", c.r.URL.Path))
	}
	c.endpoint = name
	if c.r.Method != ep.method {
		w.Header().Set("Allow", ep.method)
		return fail(requestError(http.StatusMethodNotAllowed, "Method is not allowed:%q", c.r.Method))
	}
	if ep.method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, c.r.Body, s.maxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return fail(requestError(http.StatusRequestEntityTooLarge, "request body too large: the limit is %d bytes", s.maxBody))
			}
			return fail(badRequest("reading the request body: %v", err))
		}
		c.body = body
	}
	// After the body: a verified client without a policy entry may still
	// authenticate with a token inside it.
	if err := s.checkClientCert(c); err != nil {
		return fail(err)
	}
	rep, err := ep.fn(c)
	if err == nil {
		err = s.commit(c)
	}
	if err != nil {
		return fail(err)
	}
	status = rep.status
	if status == 0 {
		status = http.StatusOK
	}
	maps.Copy(w.Header(), rep.header)
	env := envelope{Success: rep.err == nil, Result: rep.result, Messages: rep.messages}
	if rep.err != nil {
		env.Errors = []message{*rep.err}
		code, errText = rep.err.Code, rep.err.Message
	}
	writeEnvelope(w, status, env)
	return status, code, errText
}

// maxLoggedValue bounds each request-supplied value in the request log;
// maxLoggedError the error text, which quotes request values but must keep
// the cause at its end (e.g. "database or disk is full").
const (
	maxLoggedValue = 256
	maxLoggedError = 2048
)

// logSafe returns v for the log: cut to maxLoggedValue bytes (noting the
// full length) and, when it holds anything unprintable (newlines, other
// control characters, line separators, invalid UTF-8), Go-escaped so that
// it stays on one line of any log format.
func logSafe(v string) string { return logSafeN(v, maxLoggedValue) }

// logSafeN is logSafe with a bound of max bytes.
func logSafeN(v string, max int) string {
	if len(v) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = fmt.Sprintf("%s...(%d bytes)", v[:cut], len(v))
	}
	for _, r := range v {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			q := strconv.Quote(v)
			return q[1 : len(q)-1]
		}
	}
	return v
}

// requestID returns 16 random hex digits.
func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
