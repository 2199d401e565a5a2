package storesqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pkid/pkid/sdk"
	"modernc.org/sqlite"
)

// SQLite primary result codes: "another connection holds the lock", and
// the disk failing under the database.
const (
	sqliteBusy   = 5
	sqliteLocked = 6
	sqliteIOErr  = 10
	sqliteFull   = 13
)

// wrap prefixes err with the package and operation. Lock timeouts, a full
// disk and I/O errors also wrap sdk.ErrUnavailable: the transaction rolled
// back, nothing was half-written, and the caller may retry once the
// condition clears.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		if c := se.Code() & 0xff; c == sqliteBusy || c == sqliteLocked || c == sqliteIOErr || c == sqliteFull {
			return fmt.Errorf("store-sqlite: %s: %w: %w", op, sdk.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("store-sqlite: %s: %w", op, err)
}

// invalid returns an ErrInvalidArgument error for op.
func invalid(op, format string, args ...any) error {
	return fmt.Errorf("store-sqlite: %s: %s: %w", op, fmt.Sprintf(format, args...), sdk.ErrInvalidArgument)
}

// checkKey validates a serial/AKI pair and returns the canonical AKI.
func checkKey(op, serial, aki string) (string, error) {
	if strings.TrimSpace(serial) == "" {
		return "", invalid(op, "serial is required")
	}
	aki = sdk.NormalizeAKI(aki)
	if aki == "" {
		return "", invalid(op, "aki is required")
	}
	return aki, nil
}

// Times are stored as unix seconds UTC; the zero time is NULL.
func unixOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}

func fromUnix(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(v.Int64, 0).UTC()
}

// ceilUnix is the smallest whole second not before t, so that for stored
// seconds s: s < ceilUnix(t) exactly when s < t.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}
func encodeSANs(sans []string) (string, error) {
	if len(sans) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(sans)
	return string(b), err
}

func decodeSANs(s string) ([]string, error) {
	var sans []string
	if err := json.Unmarshal([]byte(s), &sans); err != nil {
		return nil, err
	}
	if len(sans) == 0 {
		return nil, nil
	}
	return sans, nil
}
