package sdk

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestErrorsCrossTheWire(t *testing.T) {
	for _, sentinel := range []error{ErrNotFound, ErrAlreadyExists, ErrInvalidArgument, ErrFailedPrecondition,
		ErrUnauthenticated, ErrUnimplemented, ErrUnavailable, context.Canceled, context.DeadlineExceeded} {
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

func TestDiagnosticsErr(t *testing.T) {
	if (Diagnostics{{Severity: SeverityWarning, Summary: "w"}}).Err() != nil {
		t.Error("warnings alone are not an error")
	}
	err := Errorf([]string{"dir"}, "bad dir", "it is a file").Err()
	var de *DiagnosticsError
	if !errors.As(err, &de) || err.Error() != "bad dir: it is a file" {
		t.Errorf("got %v", err)
	}
}
