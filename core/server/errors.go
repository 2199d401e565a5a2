package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
)

// apiError is a failure with its HTTP status and envelope code.
type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

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
// server fault whose text must not reach the client (DD-7).
func classify(err error) (status, code int, msg string, internal bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, ae.code, ae.msg, false
	}
	var ce *ca.Error
	if errors.As(err, &ce) {
		if ce.Code == ca.CodeStoreUnavailable || ce.Code == ca.CodeStoreInsert {
			// DD-17: no certificate without its record; the store's
			// own text stays in the log.
			return http.StatusServiceUnavailable, ce.Code, ce.Msg, false
		}
		return http.StatusBadRequest, ce.Code, ce.Error(), false
	}
	if errors.Is(err, sdk.ErrUnavailable) {
		return http.StatusServiceUnavailable, ca.CodeStoreUnavailable, "the certificate store is unavailable", false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, http.StatusServiceUnavailable, "request cancelled or timed out", false
	}
	return http.StatusInternalServerError, 0, "", true
}
