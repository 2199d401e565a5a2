package profile

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"github.com/pkid/pkid/core/duration"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, js string) *Config {
	t.Helper()
	cfg, err := ParseCFSSL([]byte(js))
	if err != nil {
		t.Fatalf("ParseCFSSL: %v", err)
	}
	return cfg
}

func TestParseCFSSLNoSigning(t *testing.T) {
	for _, js := range []string{`{}`, `{"signing": null}`, `{"auth_keys": {}}`} {
		_, err := ParseCFSSL([]byte(js))
		if err == nil || !strings.Contains(err.Error(), `No "signing" field present`) {
			t.Errorf("%s: err = %v", js, err)
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: error does not match ErrInvalidConfig", js)
		}
	}
}

func TestParseCFSSLInvalidJSON(t *testing.T) {
	for js, want := range map[string]string{
		"{\n  \"signing\": {,\n}":       "line 2, column 15",
		"":                              "invalid JSON",
		`[1, 2]`:                        "must be a JSON object",
		`"signing"`:                     "must be a JSON object",
		`{"signing": []}`:               "signing: must be a JSON object",
		`{"signing": {"profiles": []}}`: "signing.profiles: must be a JSON object",
	} {
		_, err := ParseCFSSL([]byte(js))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", js, err, want)
		}
	}
}

func TestParseCFSSLBuiltinDefault(t *testing.T) {
	cfg := mustParse(t, `{"signing": {}}`)
	if !reflect.DeepEqual(cfg.Default, BuiltinDefault()) {
		t.Errorf("default = %+v", cfg.Default)
	}
	d := cfg.Default
	if d.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment ||
		!reflect.DeepEqual(d.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) ||
		d.Expiry != 8760*time.Hour {
		t.Errorf("builtin default wrong: %+v", d)
	}
	if len(cfg.Profiles) != 0 || cfg.AuthKeys == nil || cfg.Remotes == nil {
		t.Errorf("config maps: %+v", cfg)
	}
}

// TestParseCFSSLEveryKey sets every profile key and checks its field.
func TestParseCFSSLEveryKey(t *testing.T) {
	cfg := mustParse(t, `{
	"signing": {"default": {"expiry": "1h"}, "profiles": {"all": {
		"usages": ["signing", "content commitment", "server auth", "1.3.6.1.4.1.311.20.2.2"],
		"expiry": "720h",
		"backdate": "0s",
		"not_before": "2026-01-01T00:00:00Z",
		"not_after": "2027-01-01T00:00:00Z",
		"ca_constraint": {"is_ca": true, "max_path_len": 0, "max_path_len_zero": true},
		"issuer_urls": ["http://a/ca.crt", "http://b/ca.crt"],
		"ocsp_url": "http://ocsp",
		"crl_url": "http://crl",
		"ocsp_no_check": true,
		"auth_key": "k1",
		"prev_auth_key": "k0",
		"copy_extensions": true,
		"name_whitelist": "^.*\\.example\\.com$",
		"ct_log_servers": ["https://ct1", "https://ct2"],
		"allowed_extensions": ["1.2.3.4", "2.5.29.17"],
		"lint_error_level": "error",
		"ignored_lints": ["e_one"],
		"ignored_lint_sources": ["ETSI_ESI"],
		"Policies": [{"ID": "2.23.140.1.2.1", "Qualifiers": [
			{"Type": "id-qt-cps", "Value": "http://cps"},
			{"Type": "id-qt-unotice", "Value": "notice"}]}],
		"CSRWhitelist": {"Subject": true, "PublicKeyAlgorithm": true, "PublicKey": true,
			"SignatureAlgorithm": true, "DNSNames": true, "IPAddresses": true,
			"EmailAddresses": true, "URIs": true},
		"ClientProvidesSerialNumbers": true
	}}},
	"auth_keys": {"k1": {"type": "standard", "key": "00ff"}, "k0": {"type": "standard", "key": "ff00"}}
	}`)
	// The one warning: ct_log_servers' SCTs cannot be verified.
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "ct_log_servers: every log must return an SCT") {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	p, err := cfg.Lookup("all")
	if err != nil {
		t.Fatal(err)
	}
	want := &Profile{
		Name:               "all",
		Usages:             []string{"signing", "content commitment", "server auth", "1.3.6.1.4.1.311.20.2.2"},
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{1, 3, 6, 1, 4, 1, 311, 20, 2, 2}},
		Expiry:             720 * time.Hour,
		Backdate:           0,
		BackdateSet:        true,
		NotBefore:          time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:           time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		CA:                 CAConstraint{IsCA: true, MaxPathLenZero: true},
		IssuerURLs:         []string{"http://a/ca.crt", "http://b/ca.crt"},
		OCSPURL:            "http://ocsp",
		CRLURL:             "http://crl",
		OCSPNoCheck:        true,
		AuthKey:            "k1",
		PrevAuthKey:        "k0",
		CopyExtensions:     true,
		NameWhitelist:      p.NameWhitelist,
		CTLogServers:       []string{"https://ct1", "https://ct2"},
		AllowedExtensions:  []asn1.ObjectIdentifier{{1, 2, 3, 4}, {2, 5, 29, 17}},
		Lint:               Lint{Level: "fatal", IgnoredLints: []string{"e_one"}, IgnoredSources: []string{"ETSI_ESI"}},
		Policies: []Policy{{ID: asn1.ObjectIdentifier{2, 23, 140, 1, 2, 1}, Qualifiers: []PolicyQualifier{
			{Type: "id-qt-cps", Value: "http://cps"}, {Type: "id-qt-unotice", Value: "notice"}}}},
		CSRWhitelist: &CSRWhitelist{Subject: true, PublicKeyAlgorithm: true, PublicKey: true,
			SignatureAlgorithm: true, DNSNames: true, IPAddresses: true, EmailAddresses: true, URIs: true},
		ClientProvidesSerialNumbers: true,
	}
	if p.NameWhitelist == nil || p.NameWhitelist.String() != `^.*\.example\.com$` {
		t.Errorf("name_whitelist = %v", p.NameWhitelist)
	}
	// ct_log_servers: CFSSL's rule, every log (N of N), keyless.
	if c := p.CT; c == nil || !reflect.DeepEqual(c.LogServers, want.CTLogServers) || c.RequiredSCTs != 2 || c.RequiredOperators != 1 || len(c.Logs) != 0 {
		t.Errorf("ct policy %+v, want every one of %v", p.CT, want.CTLogServers)
	}
	want.CT = p.CT
	if !reflect.DeepEqual(p, want) {
		t.Errorf("profile:\n got %+v\nwant %+v", p, want)
	}
	if got := cfg.AuthKeys["k1"]; got.Type != "standard" || string(got.Key) != "\x00\xff" {
		t.Errorf("auth key = %+v", got)
	}
}

func TestParseCFSSLForwarding(t *testing.T) {
	cfg := mustParse(t, `{
	"signing": {"default": {"remote": "ca"}, "profiles": {
		"plain": {"remote": "ca", "usages": ["signing"], "expiry": "1h"},
		"auth": {"auth_remote": {"remote": "ca", "auth_key": "k"}}
	}},
	"auth_keys": {"k": {"type": "standard", "key": "aa"}},
	"remotes": {"ca": " ca1:8888, ,ca2:8888 "}
	}`)
	if got := cfg.Remotes["ca"]; !reflect.DeepEqual(got, []string{"ca1:8888", "ca2:8888"}) {
		t.Errorf("remotes = %q", got)
	}
	if cfg.Default.Remote != "ca" || cfg.Default.Expiry != 0 {
		t.Errorf("default = %+v", cfg.Default)
	}
	if ar := cfg.Profiles["auth"].AuthRemote; ar == nil || *ar != (AuthRemote{Remote: "ca", AuthKey: "k"}) {
		t.Errorf("auth_remote = %+v", ar)
	}
	wantWarn := `profile "plain": forwards to a remote: local settings ignored (usages, expiry)`
	if !reflect.DeepEqual(cfg.Warnings, []string{wantWarn}) {
		t.Errorf("warnings = %q", cfg.Warnings)
	}
}

func TestParseCFSSLCaseInsensitiveKeys(t *testing.T) {
	cfg := mustParse(t, `{"SIGNING": {"Default": {"EXPIRY": "2h"}, "Profiles": {"P": {
		"Usages": ["cert sign"], "Expiry": "1h", "expiry": "3h",
		"policies": [{"id": "1.2.3", "qualifiers": [{"type": "ID-QT-CPS", "value": "x"}]}],
		"csrwhitelist": {"dnsnames": true}, "clientprovidesserialnumbers": true,
		"CA_Constraint": {"IS_CA": true}}}}}`)
	p := cfg.Profiles["P"]
	if cfg.Default.Expiry != 2*time.Hour || p.Expiry != 3*time.Hour || p.KeyUsage != x509.KeyUsageCertSign {
		t.Errorf("default %v, P %+v", cfg.Default.Expiry, p)
	}
	if len(p.Policies) != 1 || p.Policies[0].Qualifiers[0].Type != "id-qt-cps" ||
		p.CSRWhitelist == nil || !p.CSRWhitelist.DNSNames || !p.ClientProvidesSerialNumbers || !p.CA.IsCA {
		t.Errorf("P = %+v", p)
	}
	if _, err := cfg.Lookup("p"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("profile names must stay case-sensitive: %v", err)
	}
}

func TestParseCFSSLInheritURLs(t *testing.T) {
	cfg := mustParse(t, `{"signing": {
		"default": {"expiry": "1h", "issuer_urls": ["http://i"], "ocsp_url": "http://o", "crl_url": "http://c"},
		"profiles": {
			"inherit": {"expiry": "1h", "usages": ["signing"]},
			"own": {"expiry": "1h", "usages": ["signing"], "issuer_urls": ["http://i2"], "ocsp_url": "http://o2", "crl_url": "http://c2"},
			"empty": {"expiry": "1h", "usages": ["signing"], "issuer_urls": [], "ocsp_url": "", "crl_url": null}
		}}}`)
	for name, want := range map[string][3]any{
		"inherit": {[]string{"http://i"}, "http://o", "http://c"},
		"own":     {[]string{"http://i2"}, "http://o2", "http://c2"},
		// An explicit [] stays empty (CFSSL), "" and null inherit.
		"empty": {[]string{}, "http://o", "http://c"},
	} {
		p := cfg.Profiles[name]
		got := [3]any{p.IssuerURLs, p.OCSPURL, p.CRLURL}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	// Inherited slices are copies.
	cfg.Profiles["inherit"].IssuerURLs[0] = "x"
	if cfg.Default.IssuerURLs[0] != "http://i" {
		t.Error("issuer_urls shared with the default")
	}
}

func TestParseCFSSLValidationErrors(t *testing.T) {
	const keys = `"auth_keys": {"k": {"type": "standard", "key": "aa"}}, "remotes": {"r": "h:1"}`
	for _, tc := range []struct {
		name, profile, want string
	}{
		{"no expiry", `{"usages": ["signing"]}`, `profile "p": expiry: empty expiry string`},
		{"empty expiry", `{"usages": ["signing"], "expiry": ""}`, `profile "p": expiry: empty expiry string`},
		{"bad expiry", `{"usages": ["signing"], "expiry": "1y"}`, `profile "p": expiry: invalid duration "1y"`},
		{"negative expiry", `{"usages": ["signing"], "expiry": "-1h"}`, `profile "p": expiry: invalid duration`},
		{"zero expiry", `{"usages": ["signing"], "expiry": "0s"}`, `profile "p": expiry: must be greater than zero`},
		{"numeric expiry", `{"usages": ["signing"], "expiry": 3600}`, `profile "p": expiry: must be a string`},
		{"bad backdate", `{"usages": ["signing"], "expiry": "1h", "backdate": "x"}`, `profile "p": backdate: invalid duration`},
		{"no usages", `{"expiry": "1h"}`, `profile "p": usages: no usages specified`},
		{"empty usages", `{"expiry": "1h", "usages": []}`, `profile "p": usages: no usages specified`},
		{"no known usage", `{"expiry": "1h", "usages": ["foo", "bar"]}`, `profile "p": usages: none of the usages is recognised (foo, bar)`},
		{"usages type", `{"expiry": "1h", "usages": "signing"}`, `profile "p": usages: must be an array of strings`},
		{"bad not_before", `{"expiry": "1h", "usages": ["signing"], "not_before": "2026-01-01"}`, `profile "p": not_before: "2026-01-01" is not an RFC 3339 time`},
		{"not_after first", `{"expiry": "1h", "usages": ["signing"], "not_before": "2027-01-01T00:00:00Z", "not_after": "2026-01-01T00:00:00Z"}`, `profile "p": not_after: must be later than not_before`},
		{"ca_constraint type", `{"expiry": "1h", "usages": ["signing"], "ca_constraint": true}`, `profile "p": ca_constraint: must be a JSON object`},
		{"max_path_len type", `{"expiry": "1h", "usages": ["signing"], "ca_constraint": {"is_ca": true, "max_path_len": "1"}}`, `profile "p": max_path_len: must be an integer`},
		{"bad regexp", `{"expiry": "1h", "usages": ["signing"], "name_whitelist": "("}`, `profile "p": name_whitelist: invalid regular expression`},
		{"bad extension oid", `{"expiry": "1h", "usages": ["signing"], "allowed_extensions": ["1.2.x"]}`, `profile "p": allowed_extensions: "1.2.x" is not a dotted OID`},
		{"bad policy oid", `{"expiry": "1h", "usages": ["signing"], "Policies": [{"ID": "abc"}]}`, `profile "p": Policies: ID: "abc" is not a dotted OID`},
		{"bad qualifier", `{"expiry": "1h", "usages": ["signing"], "Policies": [{"ID": "1.2.3", "Qualifiers": [{"Type": "x"}]}]}`, `profile "p": Policies: qualifier Type "x" is not id-qt-cps or id-qt-unotice`},
		{"policies type", `{"expiry": "1h", "usages": ["signing"], "Policies": {}}`, `profile "p": Policies: must be an array of policy objects`},
		{"lint number", `{"expiry": "1h", "usages": ["signing"], "lint_error_level": 6}`, `profile "p": lint_error_level: must be a string, one of reserved, NA, NE, pass, info, warn, error, fatal (numbers are not accepted)`},
		{"lint name", `{"expiry": "1h", "usages": ["signing"], "lint_error_level": "notice"}`, `profile "p": lint_error_level: "notice" is not one of`},
		{"undefined remote", `{"remote": "nope"}`, `profile "p": remote: remote "nope" is not defined in "remotes"`},
		{"remote and auth_remote", `{"remote": "r", "auth_remote": {"remote": "r", "auth_key": "k"}}`, `profile "p": auth_remote: remote and auth_remote exclude each other`},
		{"auth_remote no remote", `{"auth_remote": {"auth_key": "k"}}`, `profile "p": auth_remote: needs "remote"`},
		{"auth_remote no key", `{"auth_remote": {"remote": "r"}}`, `profile "p": auth_remote: needs "auth_key"`},
		{"auth_remote bad key", `{"auth_remote": {"remote": "r", "auth_key": "zz"}}`, `profile "p": auth_remote.auth_key: auth key "zz" is not defined in "auth_keys"`},
		{"auth_remote bad remote", `{"auth_remote": {"remote": "zz", "auth_key": "k"}}`, `profile "p": auth_remote.remote: remote "zz" is not defined in "remotes"`},
		{"undefined auth_key", `{"expiry": "1h", "usages": ["signing"], "auth_key": "zz"}`, `profile "p": auth_key: auth key "zz" is not defined in "auth_keys"`},
		{"undefined prev_auth_key", `{"expiry": "1h", "usages": ["signing"], "auth_key": "k", "prev_auth_key": "zz"}`, `profile "p": prev_auth_key: auth key "zz" is not defined in "auth_keys"`},
		{"bool type", `{"expiry": "1h", "usages": ["signing"], "ocsp_no_check": "yes"}`, `profile "p": ocsp_no_check: must be true or false`},
		{"profile type", `[]`, `profile "p": must be a JSON object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := `{"signing": {"default": {"expiry": "1h"}, "profiles": {"p": ` + tc.profile + `}}, ` + keys + `}`
			_, err := ParseCFSSL([]byte(js))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), "signing config: "+tc.want) {
				t.Errorf("err = %v\nwant %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Error("not ErrInvalidConfig")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Where != `profile "p"` {
				t.Errorf("ConfigError = %+v", ce)
			}
		})
	}
}

func TestParseCFSSLDefaultValidation(t *testing.T) {
	// The default needs an expiry when local, but no usage.
	if _, err := ParseCFSSL([]byte(`{"signing": {"default": {"usages": ["signing"]}}}`)); err == nil ||
		err.Error() != "signing config: default profile: expiry: empty expiry string" {
		t.Errorf("err = %v", err)
	}
	cfg := mustParse(t, `{"signing": {"default": {"expiry": "1h"}}}`)
	if cfg.Default.KeyUsage != 0 || len(cfg.Default.ExtKeyUsage) != 0 {
		t.Errorf("default = %+v", cfg.Default)
	}
}

func TestParseCFSSLReportsEveryError(t *testing.T) {
	_, err := ParseCFSSL([]byte(`{"signing": {"default": {}, "profiles": {"a": {}, "b": {"expiry": "1h"}}}}`))
	want := []string{
		"signing config: default profile: expiry: empty expiry string",
		`signing config: profile "a": expiry: empty expiry string`,
		`signing config: profile "a": usages: no usages specified`,
		`signing config: profile "b": usages: no usages specified`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("err =\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
}

func TestParseCFSSLWarnings(t *testing.T) {
	for _, tc := range []struct {
		name, js, want string
	}{
		{"top-level key", `{"signing": {}, "extra": 1}`, `unknown key "extra" ignored`},
		{"ocsp", `{"signing": {}, "ocsp": {"KeyFile": "k"}}`, `"ocsp" section not imported`},
		{"signing key", `{"signing": {"defaults": {}}}`, `unknown key "signing.defaults" ignored`},
		{"profile key", `{"signing": {"default": {"expiry": "1h", "expiration": "1h"}}}`, `default profile: unknown key "expiration" ignored`},
		{"nested key", `{"signing": {"default": {"expiry": "1h", "ca_constraint": {"is_ca": true, "path_len": 1}}}}`, `default profile: unknown key "ca_constraint.path_len" ignored`},
		{"unknown usage", `{"signing": {"default": {"expiry": "1h", "usages": ["signing", "frobnicate"]}}}`, `default profile: usages: unknown usage "frobnicate" ignored`},
		{"usage hint", `{"signing": {"default": {"expiry": "1h", "usages": ["Server_Auth"]}}}`, `default profile: usages: unknown usage "Server_Auth" ignored (did you mean "server auth"?)`},
		{"unanchored", `{"signing": {"default": {"expiry": "1h", "name_whitelist": "example\\.com"}}}`, `default profile: name_whitelist: pattern "example\\.com" is not anchored with ^...$`},
		{"path len without is_ca", `{"signing": {"default": {"expiry": "1h", "ca_constraint": {"max_path_len": 2}}}}`, `default profile: ca_constraint: max_path_len and max_path_len_zero are ignored without is_ca`},
		{"cert_store", `{"signing": {"default": {"expiry": "1h", "cert_store": "x"}}}`, `default profile: cert_store: ignored`},
		{"lint fatal", `{"signing": {"default": {"expiry": "1h", "lint_error_level": "fatal"}}}`, `default profile: lint_error_level: "fatal" refuses no lint result`},
		{"lint NA", `{"signing": {"default": {"expiry": "1h", "lint_error_level": "NA"}}}`, `default profile: lint_error_level: "NA" would refuse passing lint results`},
		{"prev key alone", `{"signing": {"default": {"expiry": "1h", "prev_auth_key": "k"}}, "auth_keys": {"k": {"type": "standard", "key": "aa"}}}`, `default profile: prev_auth_key: has no effect without "auth_key"`},
		{"auth key field", `{"signing": {}, "auth_keys": {"k": {"type": "standard", "key": "aa", "note": "x"}}}`, `auth key "k": unknown key "note" ignored`},
		{"duplicate profile", `{"signing": {"profiles": {"a": {"expiry": "1h", "usages": ["signing"]}, "a": {"expiry": "2h", "usages": ["signing"]}}}}`, `profile "a": defined twice; the last definition wins`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, tc.js)
			found := false
			for _, w := range cfg.Warnings {
				if strings.Contains(w, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("warnings %q lack %q", cfg.Warnings, tc.want)
			}
		})
	}
}

func TestParseCFSSLLintLevels(t *testing.T) {
	for level, want := range map[string]Lint{
		"":         {Level: "error"},
		"reserved": {Level: "error"},
		"NA":       {Level: "info"},
		"NE":       {Level: "info"},
		"pass":     {Level: "info"},
		"info":     {Level: "warn"},
		"warn":     {Level: "error"},
		"Warn":     {Level: "error"},
		"error":    {Level: "fatal"},
		"fatal":    {Disabled: true},
	} {
		js := `{"signing": {"default": {"expiry": "1h"}}}`
		if level != "" {
			js = `{"signing": {"default": {"expiry": "1h", "lint_error_level": "` + level + `"}}}`
		}
		cfg := mustParse(t, js)
		if !reflect.DeepEqual(cfg.Default.Lint, want) {
			t.Errorf("%q: lint = %+v, want %+v", level, cfg.Default.Lint, want)
		}
	}
}

func TestParseCFSSLExpiryForms(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"8760h": 8760 * time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute,
		"365d": 365 * 24 * time.Hour, "1d12h": 36 * time.Hour, " 2h ": 2 * time.Hour,
	} {
		cfg := mustParse(t, `{"signing": {"default": {"expiry": "`+s+`", "backdate": "`+s+`"}}}`)
		if cfg.Default.Expiry != want || cfg.Default.Backdate != want || !cfg.Default.BackdateSet {
			t.Errorf("%q: expiry %v backdate %v", s, cfg.Default.Expiry, cfg.Default.Backdate)
		}
	}
	for _, s := range []string{"1y", "d", "-1d", "1.5d", "h", "99999999999d", "1d-1h"} {
		if _, err := duration.Parse(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestParseCFSSLRealistic(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "realistic.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !IsCFSSLConfig(data) {
		t.Fatal("IsCFSSLConfig = false")
	}
	cfg, err := ParseCFSSL(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	inter, server, client := cfg.Profiles["intermediate"], cfg.Profiles["server"], cfg.Profiles["client"]
	if inter == nil || server == nil || client == nil || len(cfg.Profiles) != 3 {
		t.Fatalf("profiles = %v", cfg.Profiles)
	}
	if inter.CA != (CAConstraint{IsCA: true, MaxPathLen: 1}) ||
		inter.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign|x509.KeyUsageCRLSign ||
		len(inter.ExtKeyUsage) != 0 || inter.Expiry != 43800*time.Hour || inter.Lint.Level != "error" {
		t.Errorf("intermediate = %+v", inter)
	}
	if server.Backdate != time.Hour || !server.BackdateSet || server.Expiry != 2160*time.Hour ||
		!reflect.DeepEqual(server.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) ||
		!server.NameWhitelist.MatchString("www.example.com") || server.NameWhitelist.MatchString("example.org") ||
		!reflect.DeepEqual(server.Lint.IgnoredLints, []string{"w_subject_common_name_included"}) {
		t.Errorf("server = %+v", server)
	}
	if client.Expiry != 90*24*time.Hour || client.AuthKey != "client-key" ||
		!reflect.DeepEqual(client.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("client = %+v", client)
	}
	// URLs: inherited from the default unless set.
	for _, p := range []*Profile{inter, server} {
		if p.OCSPURL != "http://ocsp.example.com" || p.CRLURL != "http://crl.example.com/issuing.crl" ||
			!reflect.DeepEqual(p.IssuerURLs, []string{"http://pki.example.com/issuing.crt"}) {
			t.Errorf("%s URLs: %q %q %q", p.Name, p.IssuerURLs, p.OCSPURL, p.CRLURL)
		}
	}
	if client.OCSPURL != "http://ocsp2.example.com" || client.CRLURL != "http://crl.example.com/issuing.crl" {
		t.Errorf("client URLs: %q %q", client.OCSPURL, client.CRLURL)
	}
	if k := cfg.AuthKeys["client-key"]; len(k.Key) != 16 || k.Key[0] != 0x01 || k.Key[7] != 0xef {
		t.Errorf("auth key = %x", k.Key)
	}
}

func TestIsCFSSLConfig(t *testing.T) {
	for js, want := range map[string]bool{
		`{"signing": {}}`:              true,
		"\xEF\xBB\xBF{\"Signing\": 1}": true,
		`{"ca": {"signing": {}}}`:      false,
		`{"pkid": {}}`:                 false,
		`{"signing": {}`:               false,
		`ca "x" { signing = 1 }`:       false,
		`[{"signing": 1}]`:             false,
		``:                             false,
	} {
		if got := IsCFSSLConfig([]byte(js)); got != want {
			t.Errorf("IsCFSSLConfig(%q) = %v", js, got)
		}
	}
}
