package sdk

import (
	"errors"
	"testing"
	"time"
)

func TestRevocationTransition(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		status string
		reason int
		req    RevokeRequest
		update bool
		at     time.Time
		failed bool
	}{
		{"good → revoked now", StatusGood, 0, RevokeRequest{Reason: 1}, true, time.Time{}, false},
		{"good → revoked at t1", StatusGood, 0, RevokeRequest{Reason: 1, RevokedAt: t1}, true, t1, false},
		{"same reason again", StatusRevoked, 1, RevokeRequest{Reason: 1, RevokedAt: t1}, false, t0, false},
		{"other reason", StatusRevoked, 1, RevokeRequest{Reason: 4}, false, time.Time{}, true},
		{"leave hold keeps time", StatusRevoked, ReasonCertificateHold, RevokeRequest{Reason: 1}, true, t0, false},
		{"leave hold at t1", StatusRevoked, ReasonCertificateHold, RevokeRequest{Reason: 1, RevokedAt: t1}, true, t1, false},
	} {
		update, at, err := RevocationTransition(tc.status, tc.reason, t0, tc.req)
		if update != tc.update || !at.Equal(tc.at) || (err != nil) != tc.failed || (err != nil && !errors.Is(err, ErrFailedPrecondition)) {
			t.Errorf("%s: update %v at %v err %v", tc.name, update, at, err)
		}
	}
	if NormalizeAKI(" AB:cd:EF ") != "abcdef" || ValidReason(7) || !ValidReason(10) || ValidReason(11) {
		t.Error("NormalizeAKI/ValidReason")
	}
}

func TestParseReason(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true}, {"  ", 0, true}, {"0", 0, true}, {"10", 10, true}, {" 4 ", 4, true},
		{"aACompromise", 10, true}, {"KEYCOMPROMISE", 1, true}, {"removeFromCRL", 8, true}, {"certificateHold", 6, true},
		{"7", 0, false}, {"11", 0, false}, {"-1", 0, false}, {"bogus", 0, false}, {"key compromise", 0, false}, {"0x1", 0, false},
	} {
		if got, ok := ParseReason(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("ParseReason(%q) = %d %v, want %d %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
