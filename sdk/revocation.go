package sdk

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ReasonCertificateHold is the one RFC 5280 reason a revocation may leave.
const ReasonCertificateHold = 6

// NormalizeAKI accepts an authority key identifier in any case, with colon
// separators and surrounding space (as CFSSL users type it), and returns the
// canonical lowercase hex used as a store key.
func NormalizeAKI(aki string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(aki), ":", ""))
}

// ValidReason reports whether r is an RFC 5280 CRLReason a certificate can
// be revoked with: 0-6 and 8-10 (7 is unused).
func ValidReason(r int) bool {
	return (r >= 0 && r <= 6) || (r >= 8 && r <= 10)
}

// reasonNames are the RFC 5280 CRLReason names ParseReason accepts (lower
// case).
var reasonNames = map[string]int{
	"unspecified":          0,
	"keycompromise":        1,
	"cacompromise":         2,
	"affiliationchanged":   3,
	"superseded":           4,
	"cessationofoperation": 5,
	"certificatehold":      6,
	"removefromcrl":        8,
	"privilegewithdrawn":   9,
	"aacompromise":         10,
}

// ParseReason reads a revocation reason as users type it: "" is
// unspecified (0); an RFC 5280 name in any case (keyCompromise); or a
// number ValidReason accepts. ok is false for anything else.
func ParseReason(s string) (reason int, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	if n, ok := reasonNames[strings.ToLower(s)]; ok {
		return n, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || !ValidReason(n) {
		return 0, false
	}
	return n, true
}

// RevocationTransition decides what Revoke does to a record currently in
// status with reason and revokedAt. Every certstore applies the same rules:
// revoking again with the same reason changes nothing (update false, the
// original time is kept); a certificate on hold may move to another reason,
// keeping its time unless the request sets one; any other change of reason
// is ErrFailedPrecondition. at is the time to store, zero meaning now.
func RevocationTransition(status string, reason int, revokedAt time.Time, req RevokeRequest) (update bool, at time.Time, err error) {
	at = req.RevokedAt
	if status != StatusRevoked {
		return true, at, nil
	}
	switch {
	case reason == req.Reason:
		return false, revokedAt, nil
	case reason != ReasonCertificateHold:
		return false, time.Time{}, fmt.Errorf("already revoked with reason %d, not %d: %w", reason, req.Reason, ErrFailedPrecondition)
	case at.IsZero():
		at = revokedAt // leaving hold keeps when it was revoked
	}
	return true, at, nil
}
