package wire

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestErrorsCrossTheWire(t *testing.T) {
	for _, sentinel := range []error{ErrNotFound, ErrAlreadyExists, ErrInvalidArgument, ErrFailedPrecondition,
		ErrUnauthenticated, ErrUnimplemented, ErrUnavailable, ErrLocked, context.Canceled, context.DeadlineExceeded} {
		orig := fmt.Errorf("keystore-file: key %q: %w", "k", sentinel)
		back := FromStatus(ToStatus(orig))
		if !errors.Is(back, sentinel) {
			t.Errorf("%v: after the round trip errors.Is fails (got %v)", sentinel, back)
		}
		if sentinel != ErrUnavailable && back.Error() != orig.Error() && !errors.Is(sentinel, context.Canceled) && !errors.Is(sentinel, context.DeadlineExceeded) {
			t.Errorf("message changed: %q → %q", orig, back)
		}
	}
	if err := FromStatus(ToStatus(errors.New("plain"))); err == nil || err.Error() != "plain" {
		t.Errorf("plain error: %v", err)
	}
	if FromStatus(nil) != nil || ToStatus(nil) != nil {
		t.Error("nil must stay nil")
	}
}

// ErrLocked travels as PermissionDenied, and PermissionDenied comes back as
// ErrLocked, so a plugin's "locked" survives the process boundary.
func TestLockedCode(t *testing.T) {
	if c := Code(fmt.Errorf("keystore: %w", ErrLocked)); c != codes.PermissionDenied {
		t.Errorf("Code(ErrLocked) = %v; want PermissionDenied", c)
	}
	if err := FromStatus(status.Error(codes.PermissionDenied, "2 of 3 delegations")); !errors.Is(err, ErrLocked) {
		t.Errorf("FromStatus(PermissionDenied) = %v; want ErrLocked", err)
	}
}

// A plugin's own ErrUnavailable text is not prefixed twice.
func TestUnavailableMessage(t *testing.T) {
	back := FromStatus(ToStatus(fmt.Errorf("store: put: %w: database or disk is full", ErrUnavailable)))
	if got := back.Error(); got != "store: put: plugin unavailable (retryable): database or disk is full" {
		t.Errorf("message = %q", got)
	}
}

// The host's own "unavailable" errors say the sentinel once, whether or
// not the message they quote already does.
func TestUnavailableOnce(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"store-postgres is restarting", "store-postgres is restarting: plugin unavailable (retryable)"},
		{"store-postgres is restarting: last attempt: store-postgres: connect: plugin unavailable (retryable): dial tcp: refused",
			"store-postgres is restarting: last attempt: store-postgres: connect: plugin unavailable (retryable): dial tcp: refused"},
	} {
		err := Unavailable(tc.msg)
		if !errors.Is(err, ErrUnavailable) || err.Error() != tc.want {
			t.Errorf("Unavailable(%q) = %q; want %q matching ErrUnavailable", tc.msg, err, tc.want)
		}
	}
}
