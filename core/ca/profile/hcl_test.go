package profile

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/config"
)

// loadHCL loads testdata/hcl/keystore.hcl plus name (under testdata/hcl)
// with config.Load and decodes the profiles of its one ca block. The
// rendered diagnostics of DecodeHCL are returned as text.
func loadHCL(t *testing.T, name string) (*Config, hcl.Diagnostics, string) {
	t.Helper()
	c, diags := config.Load("testdata/hcl/keystore.hcl", filepath.Join("testdata/hcl", name))
	if diags.HasErrors() || len(c.CAs) != 1 {
		t.Fatalf("config.Load(%s): %v", name, diags)
	}
	cfg, diags := DecodeHCL(c.CAs[0].Profiles)
	var b bytes.Buffer
	if err := c.WriteDiagnostics(&b, diags); err != nil {
		t.Fatal(err)
	}
	return cfg, diags, b.String()
}

func TestDecodeHCLDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		file string
		errs int
		want []string // substrings of the rendered diagnostics
	}{
		{"unknown_usage", 1, []string{"Error: Unknown usage", "unknown_usage.hcl:6:36", `"server-auth" is not a usage name or a dotted OID. Did you mean "server auth"?`}},
		{"unknown_usage_far", 1, []string{"Error: Unknown usage", "unknown_usage_far.hcl:6:15", "Usage names are any, cert sign,"}},
		{"wrong_type", 1, []string{"Error: Incorrect attribute value type", "wrong_type.hcl:6:14", `Inappropriate value for attribute "usages": list of string required`}},
		{"bool_type", 1, []string{"Error: Incorrect attribute value type", "bool_type.hcl:8:21", `"ocsp_no_check": a bool is required`}},
		{"replay_type", 1, []string{"Error: Incorrect attribute value type", "replay_type.hcl:9:30", `"auth_replay_protection": a bool is required`}},
		{"bad_duration", 1, []string{"Error: Invalid expiry", "bad_duration.hcl:7:14", `Invalid duration "90 days": want a Go duration or days`}},
		{"zero_expiry", 1, []string{"Error: Invalid expiry", "zero_expiry.hcl:7:14", "The expiry must be greater than zero."}},
		{"missing_expiry", 1, []string{"Error: Missing expiry", "missing_expiry.hcl:5:3", `Profile "p" needs an expiry`}},
		{"missing_usages", 1, []string{"Error: Missing usages", "missing_usages.hcl:5:3", `Profile "p": no usages specified`}},
		{"nc_without_ca", 1, []string{"Error: Name constraints on a non-CA profile", "nc_without_ca.hcl:8:5", "add ca_constraint { is_ca = true }"}},
		{"path_len_without_ca", 1, []string{"Error: Path length without is_ca", "path_len_without_ca.hcl:9:7", "The max_path_len argument applies only to CA profiles"}},
		{"bad_cidr", 1, []string{"Error: Invalid CIDR", "bad_cidr.hcl:9:33", `"10.0.0.0/33" is not an IP range in CIDR notation`}},
		{"unknown_attribute", 1, []string{"Error: Unsupported argument", "unknown_attribute.hcl:7:5", `An argument named "expiration" is not expected here.`}},
		{"unknown_block", 1, []string{"Error: Unsupported block type", "unknown_block.hcl:8:5", `Did you mean "lint"?`}},
		{"duplicate_block", 1, []string{"Error: Duplicate lint block", "duplicate_block.hcl:11:5", "the first is at testdata/hcl/diags/duplicate_block.hcl:8,5-9"}},
		{"bad_oid", 1, []string{"Error: Invalid OID", "bad_oid.hcl:8:24", `"1.2.x" is not a dotted OID`}},
		{"bad_url", 1, []string{"Error: Invalid URL", "bad_url.hcl:8:16", `"ocsp.example.com" is not an absolute URL`}},
		{"bad_regex", 1, []string{"Error: Invalid name_whitelist", "bad_regex.hcl:8:22", "Invalid regular expression"}},
		{"bad_time", 1, []string{"Error: Invalid not_after", "bad_time.hcl:7:18", `"2027-01-01" is not an RFC 3339 time`}},
		{"window", 1, []string{"Error: Invalid not_after", "window.hcl:8:18", "must be later than not_before"}},
		{"bad_lint_level", 1, []string{"Error: Invalid lint level", "bad_lint_level.hcl:9:15", `"warning" is not a lint level`}},
		{"bad_sigalg", 1, []string{"Error: Invalid signature_algorithm", "bad_sigalg.hcl:8:27", `did you mean "SHA256-RSAPSS"?`}},
		{"wildcard_pattern", 1, []string{"Error: Invalid DNS pattern", "wildcard_pattern.hcl:9:20", "a wildcard is only allowed as the whole first label"}},
		{"forwarding", 1, []string{"Error: Local settings on a forwarding profile", "forwarding.hcl:6:5", "remove its local settings (expiry, usages)"}},
		{"remote_key_literal", 1, []string{"Error: Invalid remote_auth_key", "remote_key_literal.hcl:7:23", `"env:VAR" or "file:PATH", never the key itself`}},
		{"remote_key_without_remote", 1, []string{"Error: remote_auth_key without remote", "remote_key_without_remote.hcl:6:5"}},
		{"remote_bad_ref", 1, []string{"Error: Invalid remote", "remote_bad_ref.hcl:6:14", "remote.upstream"}},
		// HCL's JSON syntax: ranges point into the JSON file.
		{"json_syntax.hcl.json", 1, []string{"json_syntax.hcl.json:8:37", `"Client Auth" is not a usage name or a dotted OID. Did you mean "client auth"?`}},
		// One run reports every problem.
		{"several", 3, []string{"several.hcl:6:30", `Did you mean "client auth"?`, "several.hcl:7:14", `Invalid duration "1y"`, "several.hcl:8:15", `"crl" is not an absolute URL`}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			file := tc.file
			if !strings.HasSuffix(file, ".json") {
				file += ".hcl"
			}
			cfg, diags, out := loadHCL(t, filepath.Join("diags", file))
			if cfg != nil {
				t.Error("config returned despite errors")
			}
			if n := len(diags.Errs()); n != tc.errs {
				t.Errorf("%d errors, want %d:\n%s", n, tc.errs, out)
			}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a range: %s", d.Summary)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestDecodeHCLWarnings(t *testing.T) {
	for file, want := range map[string][]string{
		"unanchored":         {"Warning: Unanchored name_whitelist", "unanchored.hcl:8:22", `The pattern "example\\.com" is not anchored`},
		"replay_without_key": {"Warning: auth_replay_protection without auth_key", "replay_without_key.hcl:8:5", `no effect without "auth_key"`},
	} {
		cfg, diags, out := loadHCL(t, filepath.Join("diags", file+".hcl"))
		if cfg == nil || diags.HasErrors() || len(diags) != 1 {
			t.Errorf("%s: want one warning and a config, got:\n%s", file, out)
			continue
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: diagnostics lack %q:\n%s", file, w, out)
			}
		}
	}
}

func TestDecodeHCLReplayProtection(t *testing.T) {
	cfg, diags, out := loadHCL(t, "replay.hcl")
	if cfg == nil || len(diags) != 0 {
		t.Fatalf("diagnostics:\n%s", out)
	}
	if !cfg.Profiles["v2"].AuthReplayProtection || cfg.Profiles["both"].AuthReplayProtection {
		t.Errorf("auth_replay_protection: v2 %v, both %v", cfg.Profiles["v2"].AuthReplayProtection, cfg.Profiles["both"].AuthReplayProtection)
	}
}

func TestDecodeHCLBuiltinDefault(t *testing.T) {
	cfg, _, _ := loadHCL(t, "diags/unanchored.hcl")
	if !reflect.DeepEqual(cfg.Default, BuiltinDefault()) {
		t.Errorf("default = %+v", cfg.Default)
	}
	if _, ok := cfg.Profiles["p"]; !ok || len(cfg.Profiles) != 1 {
		t.Errorf("profiles = %v", cfg.Profiles)
	}
	if p, err := cfg.Lookup(""); err != nil || p != cfg.Default {
		t.Errorf("Lookup(\"\") = %v, %v", p, err)
	}
}

func TestDecodeHCLNoProfiles(t *testing.T) {
	cfg, diags := DecodeHCL(nil)
	if diags.HasErrors() || !reflect.DeepEqual(cfg.Default, BuiltinDefault()) || len(cfg.Profiles) != 0 {
		t.Errorf("DecodeHCL(nil) = %+v, %v", cfg, diags)
	}
}

func oid(arcs ...int) asn1.ObjectIdentifier { return arcs }

func cidrs(t *testing.T, ss ...string) []*net.IPNet {
	t.Helper()
	var out []*net.IPNet
	for _, s := range ss {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// withoutRegexp returns a copy of p with NameWhitelist replaced by nil and
// its pattern, so profiles compare with reflect.DeepEqual.
func withoutRegexp(p *Profile) (Profile, string) {
	c := *p
	pat := ""
	if c.NameWhitelist != nil {
		pat = c.NameWhitelist.String()
	}
	c.NameWhitelist = nil
	return c, pat
}

func checkProfile(t *testing.T, name string, got, want *Profile, wantPattern string) {
	t.Helper()
	if got == nil {
		t.Errorf("profile %q missing", name)
		return
	}
	g, gotPattern := withoutRegexp(got)
	w, _ := withoutRegexp(want)
	if gotPattern != wantPattern {
		t.Errorf("%s: name_whitelist = %q, want %q", name, gotPattern, wantPattern)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", name, g, w)
	}
}

// TestDecodeHCLFull decodes a profile set using every setting.
func TestDecodeHCLFull(t *testing.T) {
	cfg, diags, out := loadHCL(t, "full.hcl")
	// The one expected warning: log_servers name logs without keys.
	if len(diags) == 1 && diags[0].Summary == "log_servers' SCTs are not verified" {
		diags = nil
	}
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", out)
	}
	issuer := []string{"http://pki.example.com/issuing.crt"}
	const ocsp, crl = "http://ocsp.example.com", "http://crl.example.com/issuing.crl"
	checkProfile(t, "default", cfg.Default, &Profile{
		Name:        "default",
		Usages:      []string{"digital signature", "client auth"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		Expiry:      14 * 24 * time.Hour,
		IssuerURLs:  issuer, OCSPURL: ocsp, CRLURL: crl,
		Lint: Lint{Level: "error"},
	}, "")
	// log_servers alone: every log (CFSSL's rule), keyless.
	if c := cfg.Profiles["server"].CT; c == nil || c.RequiredSCTs != 1 || len(c.LogServers) != 1 || len(c.Logs) != 0 {
		t.Errorf("server: ct policy %+v", c)
	}
	cfg.Profiles["server"].CT = nil
	checkProfile(t, "server", cfg.Profiles["server"], &Profile{
		Name:               "server",
		Usages:             []string{"digital signature", "key encipherment", "server auth", "1.3.6.1.4.1.311.20.2.2"},
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{oid(1, 3, 6, 1, 4, 1, 311, 20, 2, 2)},
		Expiry:             2160 * time.Hour,
		BackdateSet:        true,
		IssuerURLs:         issuer, OCSPURL: ocsp, CRLURL: crl,
		OCSPNoCheck:       true,
		CopyExtensions:    true,
		AllowedExtensions: []asn1.ObjectIdentifier{oid(1, 2, 3, 4), oid(1, 3, 6, 1, 4, 1, 99999, 7)},
		Policies: []Policy{
			{ID: oid(1, 3, 6, 1, 4, 1, 99999, 1), Qualifiers: []PolicyQualifier{
				{Type: QualifierCPS, Value: "https://example.com/cps"},
				{Type: QualifierUserNotice, Value: "Issued for testing only"},
			}},
			{ID: oid(2, 23, 140, 1, 2, 1)},
		},
		CSRWhitelist:                &CSRWhitelist{Subject: true, PublicKey: true, DNSNames: true, IPAddresses: true},
		ClientProvidesSerialNumbers: true,
		CTLogServers:                []string{"https://ct.example/log/"},
		Names: &NamePolicy{
			AllowDNS: []string{"*.svc.example.com", "example.com"}, DenyDNS: []string{"admin.example.com"},
			AllowIP: cidrs(t, "10.0.0.0/8", "2001:db8::/32"), DenyIP: cidrs(t, "10.9.0.0/16"),
			AllowEmail: []string{"example.com"}, DenyEmail: []string{"root@example.com"},
			AllowURI:       []string{"*.example.com"},
			AllowWildcards: true,
		},
		Lint: Lint{
			Level:          "warn",
			Sources:        []string{"RFC5280", "Community", "CABF_BR"},
			IgnoredLints:   []string{"w_subject_common_name_included"},
			IgnoredSources: []string{"ETSI_ESI"},
		},
		SignatureAlgorithm: x509.SHA256WithRSAPSS,
	}, `^[a-z.]+\.example\.com$`)
	checkProfile(t, "intermediate", cfg.Profiles["intermediate"], &Profile{
		Name:      "intermediate",
		Usages:    []string{"cert sign", "crl sign"},
		KeyUsage:  x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:  time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC),
		// An explicit [] is kept empty, as in CFSSL; the URLs inherit.
		IssuerURLs: []string{}, OCSPURL: ocsp, CRLURL: crl,
		CA: CAConstraint{IsCA: true, MaxPathLenZero: true},
		NameConstraints: &NameConstraints{
			Critical:       true,
			PermittedDNS:   []string{"example.com", ".example.net"},
			ExcludedDNS:    []string{"secret.example.com"},
			PermittedIP:    cidrs(t, "10.0.0.0/8"),
			ExcludedIP:     cidrs(t, "10.1.0.0/16"),
			PermittedEmail: []string{"example.com"},
			ExcludedURI:    []string{".internal.example.com"},
		},
		Lint: Lint{Level: "error", Disabled: true},
	}, "")
	checkProfile(t, "forwarded", cfg.Profiles["forwarded"], &Profile{
		Name:   "forwarded",
		Remote: "upstream", AuthKey: "key-2026", PrevAuthKey: "key-2025",
		IssuerURLs: issuer, OCSPURL: ocsp, CRLURL: crl,
		Lint: Lint{Level: "error"},
	}, "")
	if len(cfg.Profiles) != 3 {
		t.Errorf("profiles: %v", cfg.Profiles)
	}
	// Inherited URL slices are copies.
	cfg.Profiles["server"].IssuerURLs[0] = "x"
	if cfg.Default.IssuerURLs[0] != issuer[0] {
		t.Error("issuer_urls shared with the default")
	}
}

// TestDecodeHCLMatchesCFSSL decodes a CFSSL signing config and its HCL
// twin: the profiles must be equal, proving both formats mean the same.
func TestDecodeHCLMatchesCFSSL(t *testing.T) {
	js, err := os.ReadFile("testdata/realistic.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParseCFSSL(js)
	if err != nil {
		t.Fatal(err)
	}
	got, diags, out := loadHCL(t, "realistic.hcl")
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", out)
	}
	checkProfile(t, "default", got.Default, want.Default, "")
	for name, w := range want.Profiles {
		_, pat := withoutRegexp(w)
		checkProfile(t, name, got.Profiles[name], w, pat)
	}
	if len(got.Profiles) != len(want.Profiles) {
		t.Errorf("profiles %v, want %v", got.Profiles, want.Profiles)
	}
}
