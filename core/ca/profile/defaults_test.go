package profile

import (
	"bytes"
	"crypto/x509"
	"os/exec"
	"reflect"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
)

// TestDefaultConfigJSONOracle compares with the CFSSL binary when present.
func TestDefaultConfigJSONOracle(t *testing.T) {
	bin := testtool.Oracle(t, "cfssl")
	out, err := exec.Command(bin, "print-defaults", "config").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, DefaultConfigJSON()) {
		t.Errorf("DefaultConfigJSON differs from cfssl print-defaults config:\n%q\n%q", DefaultConfigJSON(), out)
	}
}

func TestDefaultConfigJSON(t *testing.T) {
	got := DefaultConfigJSON()
	if !bytes.HasPrefix(got, []byte("{\n    \"signing\": {\n")) || !bytes.HasSuffix(got, []byte("}\n}\n\n")) || len(got) != 567 {
		t.Errorf("unexpected template (%d bytes):\n%s", len(got), got)
	}
	got[0] = 'x'
	if DefaultConfigJSON()[0] != '{' {
		t.Error("DefaultConfigJSON returns shared storage")
	}
	if !IsCFSSLConfig(DefaultConfigJSON()) {
		t.Error("IsCFSSLConfig(default) = false")
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := DefaultConfig()
	if len(cfg.Warnings) != 0 || len(cfg.Profiles) != 2 {
		t.Fatalf("config = %+v", cfg)
	}
	if d := cfg.Default; d.Expiry != 168*time.Hour || d.KeyUsage != 0 || d.Usages != nil {
		t.Errorf("default = %+v", d)
	}
	for name, eku := range map[string]x509.ExtKeyUsage{"www": x509.ExtKeyUsageServerAuth, "client": x509.ExtKeyUsageClientAuth} {
		p := cfg.Profiles[name]
		if p.Name != name || p.Expiry != 8760*time.Hour ||
			p.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment ||
			!reflect.DeepEqual(p.ExtKeyUsage, []x509.ExtKeyUsage{eku}) || p.Lint.Level != "error" {
			t.Errorf("%s = %+v", name, p)
		}
	}
}
