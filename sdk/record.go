package sdk

import (
	"encoding/json"
	"fmt"
	"time"
)

// CheckSerial reports whether serial is in the one form stores key records
// by: decimal digits without a sign or leading zeros ("0" itself is
// allowed). One form per number keeps "0a1b", "0123" and "123" from being
// three records of one certificate, and lets a store order serials
// numerically by (length, text). Errors wrap ErrInvalidArgument.
func CheckSerial(serial string) error {
	ok := serial != "" && (serial == "0" || serial[0] != '0')
	for i := 0; ok && i < len(serial); i++ {
		ok = serial[i] >= '0' && serial[i] <= '9'
	}
	if !ok {
		return fmt.Errorf("serial %q is not a decimal number without sign or leading zeros: %w", serial, ErrInvalidArgument)
	}
	return nil
}

// checkAKI reports whether aki, once normalised (NormalizeAKI), is a key
// identifier: a non-empty even number of hex digits.
func checkAKI(aki string) error {
	n := NormalizeAKI(aki)
	ok := n != "" && len(n)%2 == 0
	for i := 0; ok && i < len(n); i++ {
		c := n[i]
		ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
	}
	if !ok {
		return fmt.Errorf("aki %q is not a hex key identifier: %w", aki, ErrInvalidArgument)
	}
	return nil
}

// CheckRecord applies the rules every CertStore applies to a record before
// writing it, so that all stores refuse the same records:
//   - Serial passes CheckSerial;
//   - AKI is hex bytes once normalised (stores key by NormalizeAKI(AKI));
//   - DER is present; NotAfter is set; NotBefore, when set, is not after
//     NotAfter; every set time lies in years 1 to 9999 (X.509's range);
//   - Status is "" (meaning good), StatusGood or StatusRevoked, and a revoked
//     record has a ValidReason;
//   - Metadata, when present, is valid JSON.
//
// Times are compared as instants; stores keep them in UTC. CheckRecord does
// not modify rec, and applies no defaults (status, CreatedAt): the store
// does. Every error wraps ErrInvalidArgument.
func CheckRecord(rec *CertRecord) error {
	if rec == nil {
		return fmt.Errorf("nil record: %w", ErrInvalidArgument)
	}
	if err := CheckSerial(rec.Serial); err != nil {
		return err
	}
	if err := checkAKI(rec.AKI); err != nil {
		return err
	}
	if len(rec.DER) == 0 {
		return fmt.Errorf("der is required: %w", ErrInvalidArgument)
	}
	if rec.NotAfter.IsZero() {
		return fmt.Errorf("not_after is required: %w", ErrInvalidArgument)
	}
	if !rec.NotBefore.IsZero() && rec.NotBefore.After(rec.NotAfter) {
		return fmt.Errorf("not_before %v is after not_after %v: %w", rec.NotBefore.UTC(), rec.NotAfter.UTC(), ErrInvalidArgument)
	}
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"not_before", rec.NotBefore}, {"not_after", rec.NotAfter}, {"revoked_at", rec.RevokedAt}, {"created_at", rec.CreatedAt}} {
		if y := t.t.UTC().Year(); !t.t.IsZero() && (y < 1 || y > 9999) {
			return fmt.Errorf("%s %v is outside years 1-9999: %w", t.name, t.t, ErrInvalidArgument)
		}
	}
	switch rec.Status {
	case "", StatusGood:
	case StatusRevoked:
		if !ValidReason(rec.RevocationReason) {
			return fmt.Errorf("revocation reason %d: %w", rec.RevocationReason, ErrInvalidArgument)
		}
	default:
		return fmt.Errorf("status %q: %w", rec.Status, ErrInvalidArgument)
	}
	if len(rec.Metadata) > 0 && !json.Valid(rec.Metadata) {
		return fmt.Errorf("metadata is not valid JSON: %w", ErrInvalidArgument)
	}
	return nil
}
