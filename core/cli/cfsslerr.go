package cli

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/client"
)

// CFSSL codes the CLI gives errors that do not come from core/ca.
const (
	codeCertDecode    = 1002 // CFSSL CertificateError + DecodeFailed
	codeInvalidStatus = ca.CodeOCSPInvalid
)

// cfsslError is a failure CFSSL's sign and ocspsign print as their
// {"code","message"} JSON line; command.Run prints it that way.
type cfsslError struct {
	code int
	err  error
}

func (e *cfsslError) Error() string { return e.err.Error() }
func (e *cfsslError) Unwrap() error { return e.err }

// line is the JSON error line (one line: JSON escapes newlines).
func (e *cfsslError) line() string {
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{e.code, strings.TrimSpace(e.err.Error())})
	return string(b)
}

// coded gives err the CFSSL code.
func coded(code int, err error) error { return &cfsslError{code: code, err: err} }

// cfsslErrors wraps a command's run so that errors carrying a CFSSL code
// (issuance, OCSP, a remote's reply) are printed as CFSSL prints them;
// other errors (files, usage) stay `pkid: ...` lines, as in CFSSL.
func cfsslErrors(run func([]string) error) func([]string) error {
	return func(args []string) error {
		err := run(args)
		var ce *cfsslError
		var re *client.Error
		switch {
		case err == nil || errors.As(err, &ce):
		case ca.CodeOf(err) != 0:
			err = coded(ca.CodeOf(err), err)
		case errors.As(err, &re):
			code := re.Code
			if re.RemoteCode != 0 {
				code = re.RemoteCode
			}
			err = coded(code, err)
		}
		return err
	}
}
