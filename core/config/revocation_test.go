package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// revocationPrefix declares the stores a ca block needs; ca blocks follow
// it at line revocationCALine.
const revocationPrefix = `keystore "file" "dev" {
  dir = "/var/lib/pkid/keys"
}

certstore "sqlite" "main" {
  path = "/var/lib/pkid/pkid.db"
}

`

// writeRevocationConfig writes src (after revocationPrefix) to a file and
// returns its path.
func writeRevocationConfig(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pkid.hcl")
	if err := os.WriteFile(path, []byte(revocationPrefix+src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// caBlock wraps body in a ca block named name.
func caBlock(name, body string) string {
	return `ca "` + name + `" {
  keystore  = keystore.dev
  key       = "k"
  certstore = certstore.main
` + body + `}
`
}

func TestRevocationSettingsDecode(t *testing.T) {
	path := writeRevocationConfig(t, `pkid {
  public_url = "https://ca.example:8443/"
  crl_path   = "/pub/crl/"
  ocsp_path  = "/pub/ocsp"
  ca_path    = "/pub/ca"
}

`+caBlock("full", `
  crl {
    url            = "http://crl.example/full.crl"
    delta_url      = "http://crl.example/full-d.crl"
    validity       = "7d"
    interval       = "90m"
    delta_interval = "5m"
    on_revoke      = false
  }

  ocsp {
    url                   = "https://ocsp.example/"
    validity              = "2d12h"
    refresh_interval      = "30m"
    refresh_within        = "1d"
    responder_key         = "ocsp-2026"
    responder_certificate = "/var/lib/pkid/ca/ocsp.pem"
  }
`)+caBlock("defaults", "")+caBlock("nodelta", `
  crl {
    delta_interval = "0"
  }
`))
	c, _ := mustLoad(t, path)
	if got := (PkidBlock{PublicURL: "https://ca.example:8443", CRLPath: "/pub/crl", OCSPPath: "/pub/ocsp", CAPath: "/pub/ca", DefRange: c.Pkid.DefRange}); !reflect.DeepEqual(c.Pkid, got) {
		t.Errorf("Pkid = %+v, want %+v", c.Pkid, got)
	}
	if len(c.CAs) != 3 {
		t.Fatalf("%d CAs, want 3", len(c.CAs))
	}
	byName := map[string]*CA{}
	for _, ca := range c.CAs {
		if ca.CRL == nil || ca.OCSP == nil {
			t.Fatalf("CA %s: CRL %v OCSP %v, want both set", ca.Name, ca.CRL, ca.OCSP)
		}
		byName[ca.Name] = ca
	}

	full := byName["full"]
	wantCRL := CRLSettings{URL: "http://crl.example/full.crl", DeltaURL: "http://crl.example/full-d.crl", Validity: 7 * 24 * time.Hour,
		Interval: 90 * time.Minute, DeltaInterval: 5 * time.Minute, OnRevoke: false, DefRange: full.CRL.DefRange}
	if *full.CRL != wantCRL {
		t.Errorf("full CRL = %+v\nwant %+v", *full.CRL, wantCRL)
	}
	if full.CRL.DefRange.Filename != path || full.CRL.DefRange.Start.Line != 21 {
		t.Errorf("crl block DefRange = %v, want %s line 21", full.CRL.DefRange, path)
	}
	wantOCSP := OCSPSettings{URL: "https://ocsp.example", Validity: 60 * time.Hour, RefreshInterval: 30 * time.Minute, RefreshWithin: 24 * time.Hour,
		ResponderKey: "ocsp-2026", ResponderCertificate: "/var/lib/pkid/ca/ocsp.pem", DefRange: full.OCSP.DefRange}
	if *full.OCSP != wantOCSP {
		t.Errorf("full OCSP = %+v\nwant %+v", *full.OCSP, wantOCSP)
	}
	if full.OCSP.DefRange.Start.Line != 30 {
		t.Errorf("ocsp block DefRange = %v, want line 30", full.OCSP.DefRange)
	}

	def := byName["defaults"]
	if want := (CRLSettings{Validity: 168 * time.Hour, Interval: time.Hour, DeltaInterval: 15 * time.Minute, OnRevoke: true}); *def.CRL != want {
		t.Errorf("default CRL = %+v, want %+v", *def.CRL, want)
	}
	if want := (OCSPSettings{Validity: 96 * time.Hour, RefreshInterval: time.Hour}); *def.OCSP != want {
		t.Errorf("default OCSP = %+v, want %+v", *def.OCSP, want)
	}

	nd := byName["nodelta"]
	if want := (CRLSettings{Validity: 168 * time.Hour, Interval: time.Hour, DeltaInterval: 0, OnRevoke: true, DefRange: nd.CRL.DefRange}); *nd.CRL != want {
		t.Errorf("delta_interval = \"0\": CRL = %+v, want %+v", *nd.CRL, want)
	}
}

// TestRevocationSettingsErrors checks each mistake is reported at the
// attribute's value (or the block), with the file:line:col in the rendered
// diagnostic.
func TestRevocationSettingsErrors(t *testing.T) {
	// Line numbers: revocationPrefix is 8 lines, the ca block header is
	// line 9, its three attributes lines 10-12, a nested block starts at 13.
	for _, tc := range []struct {
		name    string
		src     string
		pos     string // line:col
		summary string
		detail  string
	}{
		{"bad duration", caBlock("x", "  crl {\n    validity = \"1week\"\n  }\n"), "14:16", "Invalid duration", `validity = "1week"`},
		{"negative duration", caBlock("x", "  crl {\n    interval = \"-1h\"\n  }\n"), "14:16", "Invalid duration", `interval = "-1h"`},
		{"zero duration", caBlock("x", "  crl {\n    validity = \"0s\"\n  }\n"), "14:16", "Invalid duration", "must be positive"},
		{"zero ocsp refresh", caBlock("x", "  ocsp {\n    refresh_interval = \"0\"\n  }\n"), "14:24", "Invalid duration", "must be positive"},
		{"non-string duration", caBlock("x", "  crl {\n    validity = [1]\n  }\n"), "14:16", "", ""},
		{"ftp url", caBlock("x", "  crl {\n    url = \"ftp://crl.example/x.crl\"\n  }\n"), "14:11", "Invalid URL", "absolute http:// or https:// URL"},
		{"relative url", caBlock("x", "  ocsp {\n    url = \"/ocsp\"\n  }\n"), "14:11", "Invalid URL", `url = "/ocsp"`},
		{"hostless url", caBlock("x", "  crl {\n    delta_url = \"http:///x.crl\"\n  }\n"), "14:17", "Invalid URL", "delta_url"},
		{"relative public_url", "pkid {\n  public_url = \"ca.example:8888\"\n}\n", "10:16", "Invalid URL", "public_url"},
		{"path without slash", "pkid {\n  crl_path = \"crl\"\n}\n", "10:14", "Invalid path", `crl_path = "crl"`},
		{"root path", "pkid {\n  ocsp_path = \"/\"\n}\n", "10:15", "Invalid path", `ocsp_path = "/"`},
		{"api path", "pkid {\n  ca_path = \"/api/x\"\n}\n", "10:13", "Invalid path", "not under /api/"},
		{"query in path", "pkid {\n  crl_path = \"/crl?x\"\n}\n", "10:14", "Invalid path", "without ? or #"},
		{"duplicate crl", caBlock("x", "  crl {\n  }\n  crl {\n  }\n"), "15:3", "Duplicate crl block", ":13,3-6"},
		{"duplicate ocsp", caBlock("x", "  ocsp {\n  }\n  ocsp {\n  }\n"), "15:3", "Duplicate ocsp block", ":13,3-7"},
		{"responder key alone", caBlock("x", "  ocsp {\n    responder_key = \"r\"\n  }\n"), "13:3", "Incomplete delegated responder", "go together"},
		{"responder certificate alone", caBlock("x", "  ocsp {\n    responder_certificate = \"/r.pem\"\n  }\n"), "13:3", "Incomplete delegated responder", "go together"},
		{"unknown crl attribute", caBlock("x", "  crl {\n    lifetime = \"1h\"\n  }\n"), "14:5", "Unsupported argument", "lifetime"},
		{"unknown ocsp attribute", caBlock("x", "  ocsp {\n    nonce = true\n  }\n"), "14:5", "Unsupported argument", "nonce"},
		{"crl block with a label", caBlock("x", "  crl \"main\" {\n  }\n"), "13:7", "Extraneous label", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeRevocationConfig(t, tc.src)
			c, diags, _ := loadAll(t, path)
			if !diags.HasErrors() {
				t.Fatalf("no error for\n%s", tc.src)
			}
			out := render(t, c, diags)
			if !strings.Contains(out, path+":"+tc.pos) {
				t.Errorf("diagnostic not at %s:%s:\n%s", path, tc.pos, out)
			}
			if tc.summary != "" && !strings.Contains(out, "Error: "+tc.summary) {
				t.Errorf("no %q error:\n%s", tc.summary, out)
			}
			if !strings.Contains(out, tc.detail) {
				t.Errorf("detail lacks %q:\n%s", tc.detail, out)
			}
			if n := strings.Count(out, "Error: "); n != 1 {
				t.Errorf("%d errors, want 1:\n%s", n, out)
			}
		})
	}
}

// TestRevocationDurations checks the accepted duration forms.
func TestRevocationDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute, "168h": 168 * time.Hour, "30s": 30 * time.Second,
	} {
		path := writeRevocationConfig(t, caBlock("x", fmt.Sprintf("  crl {\n    validity = %q\n    delta_interval = %q\n  }\n", in, in)))
		c, _ := mustLoad(t, path)
		if got := c.CAs[0].CRL; got.Validity != want || got.DeltaInterval != want {
			t.Errorf("%q: validity %v, delta_interval %v, want %v", in, got.Validity, got.DeltaInterval, want)
		}
	}
}
