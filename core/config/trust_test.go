package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeHCL(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pkid.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrustAndBundleBlocks(t *testing.T) {
	path := writeHCL(t, `
trust "files" "os" {
  system = true
}
trust "files" "ci" {
  roots = ["/etc/pkid/roots"]
  isolation = "inprocess"
}
bundle {
  allow       = ["10.0.0.0/8", "*.pki.example.com", "ca.example.net"]
  aia         = true
  aia_timeout = "5s"
  int_dir     = "stash"
}
`)
	c, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(render(t, c, diags))
	}
	if len(c.Trusts) != 2 || c.Trusts[0].Kind != KindTrust || c.Trusts[0].Type != "files" || c.Trusts[1].Name != "ci" || c.Trusts[1].Isolation != IsolationInProcess {
		t.Errorf("trust blocks %+v", c.Trusts)
	}
	b := c.Bundle
	if !slices.Equal(b.Allow, []string{"10.0.0.0/8", "*.pki.example.com", "ca.example.net"}) || !b.AIA || b.AIATimeout != 5*time.Second ||
		b.IntDir != filepath.Join(filepath.Dir(path), "stash") {
		t.Errorf("bundle block %+v", b)
	}
	// The trust kind's types are checked like any other.
	known := map[string][]string{KindTrust: {"files"}}
	if ds := c.CheckTypes(known); ds.HasErrors() {
		t.Error(render(t, c, ds))
	}
}

func TestBundleDefaultsDialNothing(t *testing.T) {
	c, diags := Load(writeHCL(t, `trust "files" "os" { system = true }`))
	if diags.HasErrors() {
		t.Fatal(render(t, c, diags))
	}
	if c.Bundle.Allow != nil || c.Bundle.AIA {
		t.Errorf("default bundle settings %+v, want an empty allowlist and no AIA", c.Bundle)
	}
}

func TestTrustBlockErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{`bundle { allow = ["http://x"] }`, `allowlist entry "http://x" is not a network`},
		{`bundle { allow = "x" }`, "Incorrect attribute value type"},
		{`bundle { aia_timeout = "2h" }`, "aia_timeout must be a duration from 1s to 1m"},
		{`bundle { listen = 1 }`, "Unsupported argument"},
		{"bundle {}\nbundle {}", "Duplicate bundle block"},
		{"trust \"files\" \"a\" {}\ntrust \"files\" \"a\" {}", "Duplicate trust declaration"},
		{`trust "filez" "a" {}`, `Did you mean "files"?`},
	} {
		c, diags := Load(writeHCL(t, tt.src))
		diags = append(diags, c.CheckTypes(map[string][]string{KindTrust: {"files"}})...)
		if got := render(t, c, diags); !diags.HasErrors() || !strings.Contains(got, tt.want) {
			t.Errorf("%s:\n%s\nwant %q", tt.src, got, tt.want)
		}
	}
}
