package ca

import (
	"testing"
	"time"
)

func TestFormatExpiry(t *testing.T) {
	for in, want := range map[string]string{"8760h": "8760h", "168h": "168h", "1h30m": "1h30m", "90s": "1m30s", "5m": "5m", "1h0m30s": "1h0m30s", "1.5s": "1.5s"} {
		d, err := time.ParseDuration(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatExpiry(d); got != want {
			t.Errorf("FormatExpiry(%s) = %q, want %q", in, got, want)
		}
	}
}
