package wire

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// Timestamp is t on the wire; the zero time travels as nil.
func Timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Time is ts off the wire; nil is the zero time.
func Time(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
