package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
)

// TestBundleCTLogList: the bundle block's ct_log_list is a file (relative
// to the configuration) or an http(s) URL, with an optional key; mistakes
// are errors at the attribute.
func TestBundleCTLogList(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	key := base64.StdEncoding.EncodeToString(der)
	path := writeHCL(t, `bundle {
  ct_log_list     = "lists/log_list.json"
  ct_log_list_key = "`+key+`"
}`)
	c, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(render(t, c, diags))
	}
	if c.Bundle.CTLogList != filepath.Join(filepath.Dir(path), "lists/log_list.json") || string(c.Bundle.CTLogListKey) != string(der) {
		t.Errorf("bundle block %+v", c.Bundle)
	}
	c, diags = Load(writeHCL(t, `bundle { ct_log_list = "https://www.gstatic.com/ct/log_list/v3/log_list.json" }`))
	if diags.HasErrors() || c.Bundle.CTLogList != "https://www.gstatic.com/ct/log_list/v3/log_list.json" {
		t.Errorf("URL list: %s %+v", render(t, c, diags), c.Bundle)
	}
	for _, tt := range []struct{ src, want string }{
		{`bundle { ct_log_list = "ftp://example.com/l.json" }`, "only files and http(s) URLs are read"},
		{`bundle { ct_log_list = "" }`, "name a file or an http(s) URL"},
		{`bundle { ct_log_list = "https:///l.json" }`, "has no host"},
		{`bundle { ct_log_list = ["a"] }`, "Incorrect attribute value type"},
		{`bundle { ct_log_list_key = "` + key + `" }`, "ct_log_list_key without ct_log_list"},
		{`bundle {
  ct_log_list     = "l.json"
  ct_log_list_key = "not a key"
}`, "Invalid ct_log_list_key"},
	} {
		c, diags := Load(writeHCL(t, tt.src))
		if got := render(t, c, diags); !diags.HasErrors() || !strings.Contains(got, tt.want) {
			t.Errorf("%s:\n%s\nwant %q", tt.src, got, tt.want)
		}
	}
}
