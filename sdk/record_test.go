package sdk

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestCheckSerial(t *testing.T) {
	for _, c := range []struct {
		serial string
		ok     bool
	}{
		{"0", true}, {"1", true}, {"1234567890123456789012345678901234567890", true},
		{"", false}, {"00", false}, {"0123", false}, {"0a1b", false}, {"ff", false},
		{"-5", false}, {"+5", false}, {" 5", false}, {"5 ", false}, {"1_000", false}, {"１", false},
	} {
		err := CheckSerial(c.serial)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalidArgument)) {
			t.Errorf("CheckSerial(%q) = %v, want ok=%v (or ErrInvalidArgument)", c.serial, err, c.ok)
		}
	}
}

func TestCheckRecord(t *testing.T) {
	na := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	good := func() *CertRecord {
		return &CertRecord{Serial: "1234", AKI: "0a1b2c", NotBefore: na.Add(-time.Hour), NotAfter: na, DER: []byte{0x30, 0}}
	}
	for _, c := range []struct {
		name   string
		mutate func(*CertRecord)
		ok     bool
	}{
		{"good", func(*CertRecord) {}, true},
		{"aki with colons, upper case", func(r *CertRecord) { r.AKI = " 0A:1B:2C " }, true},
		{"no not_before", func(r *CertRecord) { r.NotBefore = time.Time{} }, true},
		{"not_before equals not_after", func(r *CertRecord) { r.NotBefore = na }, true},
		{"other zone", func(r *CertRecord) { r.NotAfter = na.In(time.FixedZone("x", 3600)) }, true},
		{"revoked", func(r *CertRecord) { r.Status, r.RevocationReason = StatusRevoked, 10 }, true},
		{"metadata", func(r *CertRecord) { r.Metadata = json.RawMessage(`{"a":1}`) }, true},
		{"serial zero", func(r *CertRecord) { r.Serial = "0" }, true},

		{"no serial", func(r *CertRecord) { r.Serial = "" }, false},
		{"hex serial", func(r *CertRecord) { r.Serial = "0a1b" }, false},
		{"leading zero", func(r *CertRecord) { r.Serial = "0123" }, false},
		{"negative serial", func(r *CertRecord) { r.Serial = "-5" }, false},
		{"no aki", func(r *CertRecord) { r.AKI = "" }, false},
		{"only colons", func(r *CertRecord) { r.AKI = "::" }, false},
		{"aki not hex", func(r *CertRecord) { r.AKI = "not-hex" }, false},
		{"aki odd length", func(r *CertRecord) { r.AKI = "abc" }, false},
		{"no der", func(r *CertRecord) { r.DER = nil }, false},
		{"no not_after", func(r *CertRecord) { r.NotAfter = time.Time{} }, false},
		{"not_before after not_after", func(r *CertRecord) { r.NotBefore = na.Add(time.Second) }, false},
		{"year 10000", func(r *CertRecord) { r.NotAfter = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, false},
		{"created before year 1", func(r *CertRecord) { r.CreatedAt = time.Time{}.Add(-time.Hour) }, false},
		{"bad status", func(r *CertRecord) { r.Status = "expired" }, false},
		{"revoked with reason 7", func(r *CertRecord) { r.Status, r.RevocationReason = StatusRevoked, 7 }, false},
		{"bad metadata", func(r *CertRecord) { r.Metadata = json.RawMessage(`{`) }, false},
	} {
		rec := good()
		c.mutate(rec)
		before := *rec
		err := CheckRecord(rec)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalidArgument)) {
			t.Errorf("%s: CheckRecord = %v, want ok=%v (or ErrInvalidArgument)", c.name, err, c.ok)
		}
		if rec.AKI != before.AKI || rec.Status != before.Status {
			t.Errorf("%s: CheckRecord modified the record", c.name)
		}
	}
	if err := CheckRecord(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("CheckRecord(nil) = %v, want ErrInvalidArgument", err)
	}
}
