package cli

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
	msg  string // the message when not err's text
}

func (e *cfsslError) Error() string { return e.err.Error() }
func (e *cfsslError) Unwrap() error { return e.err }

// line is the JSON error line (one line: JSON escapes newlines).
func (e *cfsslError) line() string {
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{e.code, strings.TrimSpace(cmp.Or(e.msg, e.err.Error()))})
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
			// CFSSL's client errors are its 7xxx codes too.
			err = &cfsslError{code: re.Code, err: err, msg: remoteLine(re, false)}
		}
		return err
	}
}

// remoteLine says what a remote call's error says without repeating the
// remote's URL or the error's code (client.Error's own text does both):
// the remote's code and HTTP status, and with withCode the client's 7xxx
// code, follow in parentheses.
func remoteLine(re *client.Error, withCode bool) string {
	msg := strings.Replace(re.Message, re.Remote, "", 1)
	s := "remote " + re.Remote
	if msg != "" {
		s += ": " + msg
	}
	if re.Err != nil {
		s += ": " + re.Err.Error()
	}
	var notes []string
	if re.RemoteCode != 0 {
		notes = append(notes, fmt.Sprintf("code %d", re.RemoteCode))
	}
	if re.Status != 0 && re.Status != 200 {
		notes = append(notes, fmt.Sprintf("HTTP %d", re.Status))
	}
	if withCode {
		notes = append(notes, strconv.Itoa(re.Code))
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	return s
}
