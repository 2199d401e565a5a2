package ca

import (
	"errors"
	"fmt"
	"strings"
)

// CFSSL error codes (category + reason) carried by issuance errors, so the
// HTTP API can answer with CFSSL's codes.
const (
	CodeMissingSerial    = 1400
	CodeKeyMismatch      = 2300
	CodeKeyUnsupported   = 2200
	CodeNoUsage          = 5100
	CodeInvalidPolicy    = 5200
	CodePolicyViolation  = 5300
	CodeUnknownProfile   = 5400
	CodeNotWhitelisted   = 5500
	CodeCSRDecode        = 9002
	CodeCSRParse         = 9003
	CodeCSRInvalid       = 9300
	CodeCTSubmission     = 10100 // CFSSL's PrecertSubmissionFailed
	CodeStoreUnavailable = 11000
	CodeStoreInsert      = 11100
)

// Error is an issuance failure with its CFSSL code. Its message is one
// clear line for the operator.
type Error struct {
	Code int
	Msg  string
	Err  error
}

// Error is Msg and the cause's text, once: a cause that already starts
// with Msg (a lookup error naming the same profile) stands alone.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	inner := e.Err.Error()
	if e.Msg == "" || strings.HasPrefix(inner, e.Msg) {
		return inner
	}
	return e.Msg + ": " + inner
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(code int, err error, format string, a ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, a...), Err: err}
}

// CodeOf returns the CFSSL code of err, or 0.
func CodeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
