package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

func decodeACMESrc(t *testing.T, src string) (*ACMEPolicy, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "pkid.hcl")
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "acme"}}})
	if diags.HasErrors() || len(content.Blocks) != 1 {
		t.Fatalf("no acme block: %v", diags)
	}
	return DecodeACME(content.Blocks[0], evalContext("."))
}

func TestDecodeACME(t *testing.T) {
	p, diags := decodeACMESrc(t, `acme {
  eab_required     = true
  caa_identities   = ["pki.example.com"]
  alternate_chains = ["cross.pem"]
  order_lifetime   = "2h"
  rate_limits {
    orders_per_account = 30
    orders_per_name    = 5
    window             = "3h"
  }
  validation {
    quorum    = 1
    timeout   = "4s"
    resolver  = "127.0.0.1:5353"
    http_port = 8080
    tls_port  = 8443
    perspective "eu" {
      url = "https://eu.example:8443"
    }
    perspective "us" {
      url = "https://us.example:8443"
    }
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := fmt.Sprintf("%v %v %v %v %v %d %d %v", p.Enabled, p.EABRequired, p.CAAIdentities, strings.HasSuffix(p.AlternateChains[0], "cross.pem"), p.OrderLifetime,
		p.OrdersPerAccount, p.OrdersPerName, p.Window)
	if got != "true true [pki.example.com] true 2h0m0s 30 5 3h0m0s" {
		t.Fatalf("policy: %s", got)
	}
	v := p.Validation
	if v.Quorum != 1 || v.Timeout != 4*time.Second || v.Resolver != "127.0.0.1:5353" || v.HTTPPort != 8080 || v.TLSPort != 8443 || len(v.Perspectives) != 2 || v.Perspectives[1].Name != "us" {
		t.Fatalf("validation: %+v", v)
	}
	// Defaults: quorum is every declared perspective; rate limits are on.
	p, diags = decodeACMESrc(t, "acme {\n  validation {\n    perspective \"a\" { url = \"https://a\" }\n  }\n}")
	if diags.HasErrors() || p.Validation.Quorum != 1 || p.Validation.HTTPPort != 80 || p.Validation.TLSPort != 443 || p.Window != DefaultACMEWindow || !p.Enabled ||
		p.OrdersPerAccount != DefaultACMEOrdersPerAccount || p.OrdersPerName != DefaultACMEOrdersPerName {
		t.Fatalf("defaults: %+v %v", p, diags)
	}
}

// An explicit 0 turns a rate limit off.
func TestDecodeACMEUnlimited(t *testing.T) {
	p, diags := decodeACMESrc(t, "acme {\n  rate_limits {\n    orders_per_account = 0\n    orders_per_name = 0\n  }\n}")
	if diags.HasErrors() || p.OrdersPerAccount != 0 || p.OrdersPerName != 0 {
		t.Fatalf("%d %d %v", p.OrdersPerAccount, p.OrdersPerName, diags)
	}
}

func TestDecodeACMEErrors(t *testing.T) {
	cases := []struct {
		src  string
		want string // "line:col summary"
	}{
		{"acme {\n  enabled = \"yes\"\n}", "2:13"},
		{"acme {\n  bogus = 1\n}", "2:3 Unsupported argument"},
		{"acme {\n  rate_limits {\n    orders_per_name = -1\n  }\n}", "3:23 Invalid orders_per_name"},
		{"acme {\n  rate_limits {\n    window = \"soon\"\n  }\n}", "3:14"},
		{"acme {\n  validation {\n    resolver = \"dns.example\"\n  }\n}", "3:16 Invalid resolver"},
		{"acme {\n  validation {\n    http_port = 70000\n  }\n}", "3:17 Invalid http_port"},
		{"acme {\n  validation {\n    quorum = 2\n    perspective \"a\" { url = \"https://a\" }\n  }\n}", "3:14 Quorum out of reach"},
		{"acme {\n  validation {\n    perspective \"a\" { url = \"ftp://a\" }\n  }\n}", "3:29 Invalid url"},
		{"acme {\n  validation {\n    perspective \"a\" { url = \"https://a\" }\n    perspective \"a\" { url = \"https://b\" }\n  }\n}", "4:17 Duplicate perspective"},
		{"acme {\n  validation {\n    perspective \"a\" {\n      url = \"https://a\"\n      cert = \"c.pem\"\n    }\n  }\n}", "3:5 Incomplete client certificate"},
		{"acme {\n  validation {}\n  validation {}\n}", "3:3 Duplicate validation block"},
	}
	for _, tc := range cases {
		_, diags := decodeACMESrc(t, tc.src)
		if !diags.HasErrors() {
			t.Errorf("%q: no error", tc.src)
			continue
		}
		d := diags[0]
		got := fmt.Sprintf("%d:%d %s", d.Subject.Start.Line, d.Subject.Start.Column, d.Summary)
		if !strings.HasPrefix(got, tc.want) || d.Subject.Filename != "pkid.hcl" {
			t.Errorf("%q: got %s (%s), want %s", tc.src, got, d.Detail, tc.want)
		}
	}
}
