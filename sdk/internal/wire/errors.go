package wire

import (
	"context"
	"errors"
	"fmt"
	"strings"

	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The sentinel errors. Package sdk re-exports them (sdk.ErrNotFound is
// ErrNotFound) and documents them; they live here because the code mapping
// below needs them and sdk cannot be imported from here.
var (
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrInvalidArgument    = errors.New("invalid argument")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrUnauthenticated    = errors.New("unauthenticated")
	ErrUnimplemented      = errors.New("not implemented by this plugin")
	ErrUnavailable        = errors.New("plugin unavailable (retryable)")
	ErrLocked             = errors.New("locked")
	ErrHeld               = errors.New("held by another holder")
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
	{ErrHeld, codes.Aborted},
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
}

func (e *codedError) Error() string { return e.msg }
func (e *codedError) Unwrap() error { return e.sentinel }

// FromStatus converts a gRPC error into an error that matches the
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
	return FromCode(s.Code(), s.Message())
}

// FromCode is FromStatus for a code and message. The message is kept as
// the plugin wrote it: the sentinel's text is added only when it is not
// already there (a transport failure from gRPC itself), so an error that
// crossed the wire says "unavailable" once.
func FromCode(code codes.Code, msg string) error {
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
		return &codedError{msg: msg, sentinel: ErrUnavailable}
	}
	for _, c := range codeOf {
		if c.code == code {
			return &codedError{msg: msg, sentinel: c.err}
		}
	}
	return errors.New(msg)
}

// StatusToPB is the in-band status of one item of a batched stream.
func StatusToPB(err error) *pb.Status {
	if err == nil {
		return nil
	}
	return &pb.Status{Code: int32(Code(err)), Message: err.Error()}
}

// StatusFromPB is the error of one item of a batched stream (nil for none).
func StatusFromPB(s *pb.Status) error {
	if s == nil {
		return nil
	}
	return FromCode(codes.Code(s.Code), s.Message)
}

// Unavailable returns an error matching ErrUnavailable whose text is msg,
// followed by the sentinel's text only when msg does not already say it:
// a message built from an error that crossed the wire, or from a failed
// restart, usually does.
func Unavailable(msg string) error {
	if !strings.Contains(msg, ErrUnavailable.Error()) {
		msg += ": " + ErrUnavailable.Error()
	}
	return &codedError{msg: msg, sentinel: ErrUnavailable}
}
