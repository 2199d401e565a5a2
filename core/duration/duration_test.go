package duration

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"14d", 14 * 24 * time.Hour, false},
		{"2160h", 2160 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"", 0, true},
		{"-1h", 0, true},
		{"xd", 0, true},
		{"5", 0, true},
		{"1d-1h", 0, true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestParseEdgeCases(t *testing.T) {
	good := map[string]time.Duration{
		"8760h": 8760 * time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute,
		"14d": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour, "0d": 0, "0s": 0, " 5m ": 5 * time.Minute,
	}
	for in, want := range good {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "1y", "-1h", "-1d", "+1d", "1d-1h", "1d1d", "h", "99999999999d", "106751d24h", "5"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want error", in, got)
		}
	}
}
