package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func loadText(t *testing.T, text string) (*Config, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pkid.hcl")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, diags := Load(p)
	if diags.HasErrors() {
		return c, diags.Error()
	}
	return c, ""
}

func TestScanBlock(t *testing.T) {
	c, errs := loadText(t, `pkid {
  scan {
    allow          = ["127.0.0.0/8", "*.example.com"]
    max_concurrent = 2
    max_timeout    = "30s"
    isolation      = "inprocess"
  }
}
scancheck "tls" "extra" {}
`)
	if errs != "" {
		t.Fatal(errs)
	}
	s := c.Pkid.Scan
	if s == nil || !slices.Equal(s.Allow, []string{"127.0.0.0/8", "*.example.com"}) || s.MaxConcurrent != 2 || s.MaxTimeout != 30*time.Second || s.Isolation != IsolationInProcess {
		t.Errorf("scan block %+v", s)
	}
	if len(c.ScanChecks) != 1 || c.ScanChecks[0].Kind != KindScanCheck || c.ScanChecks[0].Name != "extra" {
		t.Errorf("scancheck blocks %+v", c.ScanChecks)
	}
	c, errs = loadText(t, "pkid {\n  scan { allow = [\"::1\"] }\n}\n")
	if errs != "" || c.Pkid.Scan.MaxConcurrent != DefaultScanConcurrent || c.Pkid.Scan.MaxTimeout != DefaultScanTimeout {
		t.Errorf("defaults: %+v %s", c.Pkid.Scan, errs)
	}
	if c, _ := loadText(t, "pkid {}\n"); c.Pkid.Scan != nil {
		t.Error("scan is on without a scan block")
	}
}

func TestScanBlockErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`scan {}`, `The argument "allow" is required`},
		{`scan { allow = [] }`, "Empty scan allowlist"},
		{`scan { allow = ["not a network"] }`, "Invalid scan allowlist"},
		{"scan {\n allow = [\"::1\"]\n max_concurrent = 0\n}", "max_concurrent must be between 1 and 256"},
		{"scan {\n allow = [\"::1\"]\n max_concurrent = 1000\n}", "max_concurrent must be between 1 and 256"},
		{"scan {\n allow = [\"::1\"]\n max_timeout = \"1h\"\n}", "max_timeout must be between 1s and 5m0s"},
		{"scan {\n allow = [\"::1\"]\n max_timeout = \"soon\"\n}", "Invalid duration"},
		{"scan { allow = [\"::1\"] }\n  scan { allow = [\"::1\"] }", "Duplicate scan block"},
		{"scan {\n allow = [\"::1\"]\n extra = 1\n}", "Unsupported argument"},
		{"scan {\n allow = [\"::1\"]\n isolation = \"none\"\n}", `isolation must be "process" or "inprocess", not "none"`},
	} {
		_, errs := loadText(t, "pkid {\n  "+tc.body+"\n}\n")
		if !strings.Contains(errs, tc.want) {
			t.Errorf("%s: %q, want %q", tc.body, errs, tc.want)
		}
	}
}
