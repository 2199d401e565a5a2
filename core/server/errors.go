package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
)

// apiError is a failure with its HTTP status and envelope code.
type apiError struct {
	status int
	code   int
	msg    string
	// cause, when set, is logged (never sent) with a 503.
	cause error
}

func (e *apiError) Error() string { return e.msg }

func (e *apiError) Unwrap() error { return e.cause }

// requestError is a request-shape failure: the code is the HTTP status.
func requestError(status int, format string, a ...any) *apiError {
	return &apiError{status: status, code: status, msg: fmt.Sprintf(format, a...)}
}

// badRequest is requestError with 400.
func badRequest(format string, a ...any) *apiError {
	return requestError(http.StatusBadRequest, format, a...)
}

// codedError is a CFSSL-coded failure, sent with HTTP 400.
func codedError(code int, format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, a...)}
}

// classify maps err to status, code and message; internal reports a
// server fault whose text must not reach the client
// (docs/differences-from-cfssl.md, "Client mistakes are 4xx, faults are
// opaque"). A retryable plugin failure is a 503 naming the failing part
// (keystore or certstore instance); its cause stays in the log.
func classify(err error) (status, code int, msg string, internal bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, ae.code, ae.msg, false
	}
	var ce *ca.Error
	if errors.As(err, &ce) {
		if ce.Code == ca.CodeStoreUnavailable || ce.Code == ca.CodeStoreInsert {
			// No certificate without its record (docs/differences-from-cfssl.md,
			// same heading); the store's own text stays in the log.
			msg := ce.Msg
			if part := failingPart(err); part != "" {
				msg += " (" + part + ")"
			}
			return http.StatusServiceUnavailable, ce.Code, msg, false
		}
		if ce.Code == ca.CodeCTSubmission {
			// The CT logs could not meet the policy: retryable, and the
			// message names each log and why (docs/ct.md).
			return http.StatusServiceUnavailable, ce.Code, ce.Error(), false
		}
		if !errors.Is(err, sdk.ErrUnavailable) && !errors.Is(err, sdk.ErrLocked) {
			return http.StatusBadRequest, ce.Code, ce.Error(), false
		}
	}
	if errors.Is(err, sdk.ErrUnavailable) || errors.Is(err, sdk.ErrLocked) {
		code := http.StatusServiceUnavailable
		var ie *pluginhost.InstanceError
		if !errors.As(err, &ie) || ie.Kind == sdk.KindCertStore {
			code = ca.CodeStoreUnavailable
		}
		msg := failingPart(err)
		if msg == "" {
			msg = "a plugin is unavailable (retryable)"
			if code == ca.CodeStoreUnavailable {
				msg = "the certificate store is unavailable"
			}
		}
		return http.StatusServiceUnavailable, code, msg, false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, http.StatusServiceUnavailable, "request cancelled or timed out", false
	}
	return http.StatusInternalServerError, 0, "", true
}

// failingPart says which plugin instance err came from and how it failed
// ("certstore \"main\" is unavailable (retryable)"), or "" when err names
// none. Only the part and the class of failure: the plugin's own text
// (paths, SQL) goes to the log, not to the client.
func failingPart(err error) string {
	var ie *pluginhost.InstanceError
	if !errors.As(err, &ie) {
		return ""
	}
	switch {
	case errors.Is(err, sdk.ErrLocked):
		return ie.Part() + " is locked; retry once it is unlocked"
	case errors.Is(err, sdk.ErrUnavailable):
		return ie.Part() + " is unavailable (retryable)"
	}
	return ie.Part() + " failed"
}

// storeUnavailable is the message for a certstore failing with
// sdk.ErrUnavailable: the part by name when the error carries it.
func storeUnavailable(err error) string {
	if part := failingPart(err); part != "" {
		return part
	}
	return "the certificate store is unavailable"
}
