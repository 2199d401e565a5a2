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
