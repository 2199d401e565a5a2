// Package scanchecks is pkid's builtin TLS scanner checks (kind scancheck,
// type "tls"): CFSSL's scan families and scanners, with CFSSL's output
// shapes, and more checks, including a grade against the Mozilla
// server-side TLS guidelines. Legacy protocols and suites that Go's
// crypto/tls no longer speaks are probed with zcrypto's tls. The checks and
// their grades are documented in docs/scanner.md.
package scanchecks

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/pkid/pkid/sdk"
)

// Version is the plugin's semantic version.
const Version = "0.1.0"

const defaultDialTimeout = 10 * time.Second

type plugin struct{}

// New returns the "tls" scancheck plugin. Its instances implement
// sdk.ScanCheck.
func New() sdk.Plugin { return plugin{} }

// Info describes the plugin build.
func (plugin) Info() sdk.Info {
	return sdk.Info{
		Name:        "tls",
		Version:     Version,
		Kinds:       []string{sdk.KindScanCheck},
		Description: "TLS scanner checks: CFSSL's families, protocol and cipher probing from SSL 3.0 to TLS 1.3, Mozilla guidelines grading",
	}
}

// Schema returns the scancheck block's schema, or nil for any other kind.
func (plugin) Schema(kind string) *sdk.Schema {
	if kind != sdk.KindScanCheck {
		return nil
	}
	return sdk.NewSchema().
		String("mozilla_guidelines", sdk.Optional, `version of the Mozilla server-side TLS guidelines the Mozilla family grades against: "6.0" or "5.7"`).
		Default(`"6.0"`).
		String("ca_file", sdk.Optional, "PEM file of the roots TLSDial and IntermediateCAs trust; the system roots when unset").
		Duration("dial_timeout", sdk.Optional, "bound on each connection and handshake a check makes (the per-call deadline still applies)").
		Default(`"10s"`).
		Bool("fetch_revocation", sdk.Optional, "let ChainValidation and Revocation fetch the OCSP responders and CRLs the certificates name (bounded in time and size); those URLs are not the scan target, so a daemon's scan allowlist does not cover them").
		Default("false")
}

type rawConfig struct {
	Guidelines      *string `json:"mozilla_guidelines"`
	CAFile          *string `json:"ca_file"`
	DialTimeout     *string `json:"dial_timeout"`
	FetchRevocation *bool   `json:"fetch_revocation"`
}

// ValidateConfig checks the block; it reads ca_file.
func (plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	_, diags := newChecker(cfg)
	return diags
}

// Configure returns the instance. Errors: *sdk.DiagnosticsError for a bad
// configuration (unknown guidelines version, unreadable ca_file, bad
// dial_timeout).
func (plugin) Configure(_ context.Context, cfg sdk.Config) (sdk.Instance, error) {
	c, diags := newChecker(cfg)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func newChecker(cfg sdk.Config) (*checker, sdk.Diagnostics) {
	var raw rawConfig
	if err := cfg.Decode(&raw); err != nil {
		return nil, sdk.Errorf(nil, "invalid scancheck configuration", err.Error())
	}
	var diags sdk.Diagnostics
	c := &checker{dialTimeout: defaultDialTimeout, now: time.Now}
	version := defaultGuidelines
	if raw.Guidelines != nil {
		version = *raw.Guidelines
	}
	g, err := loadGuidelines(version)
	if err != nil {
		diags = append(diags, sdk.Errorf([]string{"mozilla_guidelines"}, "unknown Mozilla guidelines version", err.Error())...)
	}
	c.guidelines = g
	if raw.CAFile != nil && *raw.CAFile != "" {
		pem, err := os.ReadFile(*raw.CAFile)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			diags = append(diags, sdk.Errorf([]string{"ca_file"}, "unreadable ca_file", err.Error())...)
		case !pool.AppendCertsFromPEM(pem):
			diags = append(diags, sdk.Errorf([]string{"ca_file"}, "no certificate in ca_file", fmt.Sprintf("%s holds no PEM certificate", *raw.CAFile))...)
		default:
			c.roots = pool
		}
	}
	if raw.DialTimeout != nil {
		d, err := time.ParseDuration(*raw.DialTimeout)
		if err != nil || d <= 0 || d > 5*time.Minute {
			diags = append(diags, sdk.Errorf([]string{"dial_timeout"}, "invalid dial_timeout",
				fmt.Sprintf("dial_timeout must be a duration from 1ns to 5m, not %q", *raw.DialTimeout))...)
		} else {
			c.dialTimeout = d
		}
	}
	if raw.FetchRevocation != nil {
		c.revocation = *raw.FetchRevocation
	}
	c.families = allFamilies()
	return c, diags
}

// allFamilies is every family in the order Families reports them.
func allFamilies() []*family {
	return []*family{connectivityFamily(), tlsHandshakeFamily(), tlsSessionFamily(), pkiFamily(), httpFamily(), broadFamily(), mozillaFamily()}
}
