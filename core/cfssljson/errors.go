package cfssljson

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotString: a key cfssljson reads holds a non-string value
	// (cfssljson itself panics there).
	ErrNotString = errors.New("not a string")
	// ErrMissing: a bundle object lacks "bundle" or "root".
	ErrMissing = errors.New("missing")
)

// ParseError reports input that is not JSON of the expected shape.
type ParseError struct{ Err error }

func (e *ParseError) Error() string { return "parse input: " + e.Err.Error() }
func (e *ParseError) Unwrap() error { return e.Err }

// RequestError reports an envelope with success false; Messages are the
// messages of its errors, in order.
type RequestError struct{ Messages []string }

func (e *RequestError) Error() string {
	if len(e.Messages) == 0 {
		return "request failed"
	}
	return "request failed: " + strings.Join(e.Messages, "; ")
}

// FieldError reports an unusable value: Key is the JSON key ("cert",
// "ocspResponse", or "bundle.bundle" / "bundle.root" inside a bundle object).
type FieldError struct {
	Key string
	Err error
}

func (e *FieldError) Error() string { return fmt.Sprintf("%q: %v", e.Key, e.Err) }
func (e *FieldError) Unwrap() error { return e.Err }

// Message returns what cfssljson prints on stderr for err, newline
// terminated. Errors cfssljson never reports (it panics on non-string
// values) get pkid's wording after cfssljson's "Failed to parse input: ".
func Message(err error) string {
	var (
		pe *ParseError
		re *RequestError
		fe *FieldError
	)
	switch {
	case errors.As(err, &re):
		var b strings.Builder
		b.WriteString("Request failed:\n")
		for _, m := range re.Messages {
			b.WriteString("\t" + m + "\n")
		}
		return b.String()
	case errors.As(err, &pe):
		msg := pe.Err.Error()
		var te *json.UnmarshalTypeError
		if errors.As(pe.Err, &te) {
			// cfssljson declares its envelope types in package main.
			msg = strings.ReplaceAll(msg, "cfssljson.ResponseMessage", "main.ResponseMessage")
		}
		return "Failed to parse input: " + msg + "\n"
	case errors.As(err, &fe):
		switch {
		case fe.Key == "bundle.bundle":
			return "inner bundle parsing failed!\n"
		case fe.Key == "bundle.root":
			return "root parsing failed!\n"
		case errors.Is(fe.Err, ErrNotString):
			return "Failed to parse input: " + fe.Error() + "\n"
		case fe.Key == "ocspResponse":
			return "Failed to parse ocspResponse: " + fe.Err.Error() + "\n"
		}
	}
	return err.Error() + "\n"
}
