package client

import "fmt"

// CFSSL APIClient error codes (category 7000).
const (
	CodeAuthFailure = 7100 // building the authsign wrapper failed
	CodeJSON        = 7200 // a request or reply could not be (de)serialised
	CodeIO          = 7300 // the remote could not be reached or read
	CodeBadStatus   = 7400 // the remote answered with a non-200 status
	CodeRemoteError = 7500 // the remote answered success:false
)

// Error is a failed remote call.
type Error struct {
	// Code is one of the 7xxx codes above.
	Code int
	// Remote is the base URL of the remote that produced the error.
	Remote string
	// Status is the HTTP status for CodeBadStatus and CodeRemoteError.
	Status int
	// RemoteCode is the code of the first entry of the reply's errors
	// array, when there is one.
	RemoteCode int
	// Message is the reply's first error message, or the reply body when
	// it is not an envelope, or a description of the local failure.
	Message string
	// Err is the underlying cause for CodeIO and CodeJSON.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("remote %s: %d", e.Remote, e.Code)
	if e.Status != 0 && e.Status != 200 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RemoteCode != 0 {
		s += fmt.Sprintf(" (code %d)", e.RemoteCode)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// retryable reports whether the next remote should be tried: the remote
// was unreachable, broke the connection, or failed with a 5xx status.
func (e *Error) retryable() bool {
	return e.Code == CodeIO || (e.Code == CodeBadStatus && e.Status >= 500)
}
