package bundle

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// CFSSL's bundler error codes (category + reason), so the API and the CLI
// answer with the codes CFSSL clients expect (docs/bundler.md).
const (
	CodeCertDecode       = 1002 // the certificate input could not be decoded
	CodeCertParse        = 1003 // a certificate did not parse
	CodeSelfSigned       = 1100 // the leaf is self-signed (non-force flavors)
	CodeVerifyFailed     = 1200 // no verified chain; also a name mismatch, as CFSSL
	CodeCertInvalid      = 1210 // + x509.InvalidReason of the failure
	CodeUnknownAuthority = 1220 // no path to a trusted root
	CodeBadRequest       = 1300 // the request itself is malformed (no leaf)
	CodeKeyParse         = 2003 // the private key did not parse
	CodeKeyEncrypted     = 2100 // the private key is encrypted
	CodeKeyUnsupported   = 2200 // neither RSA, ECDSA nor Ed25519
	CodeKeyMismatch      = 2300 // the key does not match the leaf
	CodeIntermediates    = 3003 // an intermediate offered to the pool did not parse
	CodeRoot             = 4003 // a root offered to the pool did not parse
)

// Error is a bundling failure with its CFSSL code. Msg is CFSSL's text
// for the code, or the wrapped error's text where CFSSL sends that.
type Error struct {
	Code int
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg != e.Err.Error() {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the CFSSL code of err, or 0 when err carries none.
func CodeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func newError(code int, msg string) *Error { return &Error{Code: code, Msg: msg} }

// verifyError maps a verification failure onto CFSSL's 12xx codes: an
// x509.CertificateInvalidError gives 1210+reason, an unknown authority
// 1220, anything else 1200. The message is the error's own text, as CFSSL
// sends it.
func verifyError(err error) *Error {
	code := CodeVerifyFailed
	var inv x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv):
		code = CodeCertInvalid + int(inv.Reason)
	case errors.As(err, &ua):
		code = CodeUnknownAuthority
	}
	return &Error{Code: code, Msg: err.Error(), Err: err}
}

func errorf(code int, format string, a ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, a...)}
}
