package acme

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// ErrorNS is the namespace of RFC 8555's error types.
const ErrorNS = "urn:ietf:params:acme:error:"

// Problem types (RFC 8555 section 6.7, RFC 9773 for alreadyReplaced).
const (
	ProbAccountDoesNotExist     = "accountDoesNotExist"
	ProbAlreadyRevoked          = "alreadyRevoked"
	ProbAlreadyReplaced         = "alreadyReplaced"
	ProbBadCSR                  = "badCSR"
	ProbBadNonce                = "badNonce"
	ProbBadPublicKey            = "badPublicKey"
	ProbBadRevocationReason     = "badRevocationReason"
	ProbBadSignatureAlgorithm   = "badSignatureAlgorithm"
	ProbCAA                     = "caa"
	ProbConnection              = "connection"
	ProbExternalAccountRequired = "externalAccountRequired"
	ProbIncorrectResponse       = "incorrectResponse"
	ProbMalformed               = "malformed"
	ProbOrderNotReady           = "orderNotReady"
	ProbRateLimited             = "rateLimited"
	ProbRejectedIdentifier      = "rejectedIdentifier"
	ProbServerInternal          = "serverInternal"
	ProbUnauthorized            = "unauthorized"
	ProbUnsupportedContact      = "unsupportedContact"
	ProbUnsupportedIdentifier   = "unsupportedIdentifier"
)

// problem is an RFC 7807 problem document with ACME's fields; it is also
// the error type of the handlers.
type problem struct {
	Type        string      `json:"type"`
	Detail      string      `json:"detail,omitempty"`
	Status      int         `json:"status,omitempty"`
	Identifier  *Identifier `json:"identifier,omitempty"`
	Subproblems []problem   `json:"subproblems,omitempty"`
	Algorithms  []string    `json:"algorithms,omitempty"`
	retryAfter  int         // seconds; rateLimited
	cause       error       // logged, not sent
	authFailure bool        // the caller failed authentication or authorization
}

func (p *problem) Error() string { return p.Type + ": " + p.Detail }

// Unwrap gives the cause (e.g. the CA's lint refusal behind a badCSR), so
// the daemon's metrics can name refusing lints.
func (p *problem) Unwrap() error { return p.cause }

// AuthFailure reports whether the problem refuses the caller's identity
// (a signature that does not verify, an unknown account, a resource of
// another account): the audit log's auth_failure records, not the HTTP
// status, decide that for ACME, whose 403s are mostly about order state.
func (p *problem) AuthFailure() bool { return p.authFailure }

// authProblem marks p as an authentication or authorization failure.
func authProblem(p *problem) *problem {
	p.authFailure = true
	return p
}

// newProblem builds a problem of an RFC 8555 type (without the namespace).
func newProblem(status int, typ, format string, a ...any) *problem {
	return &problem{Type: ErrorNS + typ, Status: status, Detail: fmt.Sprintf(format, a...)}
}

func malformed(format string, a ...any) *problem {
	return newProblem(http.StatusBadRequest, ProbMalformed, format, a...)
}

func unauthorized(format string, a ...any) *problem {
	return authProblem(newProblem(http.StatusForbidden, ProbUnauthorized, format, a...))
}

func internal(err error) *problem {
	p := newProblem(http.StatusInternalServerError, ProbServerInternal, "internal error")
	p.cause = err
	return p
}

// writeProblem sends p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *problem) {
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
