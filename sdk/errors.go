package sdk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors. Plugins wrap them (fmt.Errorf("...: %w", sdk.ErrNotFound));
// they cross the gRPC boundary as status codes and come back as the same
// sentinels, so errors.Is works on the host whether a plugin runs in process
// or out of process.
var (
	// ErrNotFound: the key, certificate or instance does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a different object already has that identity.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidArgument: the request is malformed (bad algorithm, bad id, ...).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFailedPrecondition: the request conflicts with current state
	// (e.g. already revoked with another reason).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnauthenticated: a passphrase, PIN or credential is wrong.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrUnimplemented: the plugin lacks that capability.
	ErrUnimplemented = errors.New("not implemented by this plugin")
	// ErrUnavailable: the plugin or its backend is temporarily unreachable
	// (process restarting, database down). The call may be retried.
	ErrUnavailable = errors.New("plugin unavailable (retryable)")
	// ErrLocked: the keystore holds the key but may not use it yet (e.g. a
	// split-key keystore without enough delegations). Not a fault: health
	// shows the keystore as "locked", and the call may succeed once it is
	// unlocked. Carried as gRPC PermissionDenied.
	ErrLocked = errors.New("locked")
)

var codeOf = []struct {
	err  error
	code codes.Code
}{
	{ErrNotFound, codes.NotFound},
	{ErrAlreadyExists, codes.AlreadyExists},
	{ErrInvalidArgument, codes.InvalidArgument},
	{ErrFailedPrecondition, codes.FailedPrecondition},
	{ErrUnauthenticated, codes.Unauthenticated},
	{ErrUnimplemented, codes.Unimplemented},
	{ErrUnavailable, codes.Unavailable},
	{ErrLocked, codes.PermissionDenied},
}

// Code maps an error to the gRPC code that carries it.
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	for _, c := range codeOf {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return codes.Unknown
}

// ToStatus converts a plugin error into a gRPC status error.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(Code(err), err.Error())
}

// codedError keeps the plugin's message while matching the sentinel.
type codedError struct {
	msg      string
	sentinel error
	code     codes.Code
}

func (e *codedError) Error() string { return e.msg }
func (e *codedError) Unwrap() error { return e.sentinel }

// FromStatus converts a gRPC error into an error that matches the sdk
// sentinels with errors.Is. Transport failures (the plugin process died or
// the connection broke) become ErrUnavailable.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	s, ok := status.FromError(err)
	if !ok {
		return err
	}
	return fromCode(s.Code(), s.Message())
}

func fromCode(code codes.Code, msg string) error {
	switch code {
	case codes.OK:
		return nil
	case codes.Canceled:
		return fmt.Errorf("%s: %w", msg, context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %w", msg, context.DeadlineExceeded)
	case codes.Unavailable:
		if !strings.Contains(msg, ErrUnavailable.Error()) {
			msg = ErrUnavailable.Error() + ": " + msg
		}
		return &codedError{msg: msg, sentinel: ErrUnavailable, code: code}
	}
	for _, c := range codeOf {
		if c.code == code {
			return &codedError{msg: msg, sentinel: c.err, code: code}
		}
	}
	return errors.New(msg)
}
