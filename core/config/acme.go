package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// ACMEPolicy is a profile's acme block: the profile is served over ACME
// (RFC 8555) at /acme/CA/PROFILE/directory (docs/acme.md).
//
//	acme {
//	  enabled        = true
//	  eab_required   = true
//	  caa_identities = ["pki.example.com"]
//	  alternate_chains = ["cross-signed.pem"]
//	  rate_limits {
//	    orders_per_account = 300   # per window
//	    orders_per_name    = 50
//	    window             = "1h"
//	  }
//	  validation {
//	    quorum    = 1
//	    timeout   = "10s"
//	    resolver  = "127.0.0.1:53"   # DNS server of the primary perspective
//	    http_port = 80
//	    tls_port  = 443
//	    perspective "eu" {
//	      url  = "https://validator-eu.example:8443"
//	      ca   = "validators-ca.pem"
//	      cert = "daemon.pem"
//	      key  = "daemon-key.pem"
//	    }
//	  }
//	}
//
// The names a profile issues to over ACME are its name policy (the
// profile's names block): identifiers outside it are refused as
// rejectedIdentifier when the order is created.
type ACMEPolicy struct {
	Enabled     bool
	EABRequired bool
	// CAAIdentities are the issuer domain names of this CA in CAA
	// issue/issuewild records (RFC 8659); empty: CAA is not checked.
	CAAIdentities []string
	// AlternateChains are PEM files, each the certificates above the
	// issuing CA's certificate of another chain (a cross-signed issuer
	// first); served as Link rel="alternate".
	AlternateChains []string
	// OrdersPerAccount and OrdersPerName bound new orders per Window
	// (defaults below; an explicit 0: unlimited). On by default: an
	// open newAccount must not let one client fill the shared store.
	OrdersPerAccount, OrdersPerName int
	Window                          time.Duration
	// OrderLifetime is how long an order and its authorizations stay
	// usable (default 24h).
	OrderLifetime time.Duration
	Validation    ACMEValidation
	DefRange      hcl.Range
}

// ACMEValidation is an acme block's validation block.
type ACMEValidation struct {
	// Quorum is how many remote perspectives must agree with the primary
	// (default: all of them; never more than are declared).
	Quorum  int
	Timeout time.Duration
	// Resolver is host:port of the DNS server the primary perspective
	// asks ("": the system's).
	Resolver string
	// HTTPPort and TLSPort are where http-01 and tls-alpn-01 are checked
	// (defaults 80 and 443; tests use others).
	HTTPPort, TLSPort int
	Perspectives      []*ACMEPerspective
	DefRange          hcl.Range
}

// ACMEPerspective is a remote validator (`pkid validator`), reached over
// mutual TLS.
type ACMEPerspective struct {
	Name          string
	URL           string
	CA, Cert, Key string
	DefRange      hcl.Range
	URLRange      hcl.Range
}

// Defaults of the acme block.
const (
	DefaultACMEWindow           = time.Hour
	DefaultACMEOrdersPerAccount = 300
	DefaultACMEOrdersPerName    = 50
	DefaultACMEOrderLifetime    = 24 * time.Hour
	DefaultACMEValidationTime   = 10 * time.Second
)

var (
	acmeSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "enabled"}, {Name: "eab_required"}, {Name: "caa_identities"}, {Name: "alternate_chains"},
			{Name: "order_lifetime"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "rate_limits"}, {Type: "validation"}},
	}
	acmeRateSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "orders_per_account"}, {Name: "orders_per_name"}, {Name: "window"},
	}}
	acmeValidationSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "quorum"}, {Name: "timeout"}, {Name: "resolver"}, {Name: "http_port"}, {Name: "tls_port"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "perspective", LabelNames: []string{"name"}}},
	}
	acmePerspectiveSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "url", Required: true}, {Name: "ca"}, {Name: "cert"}, {Name: "key"},
	}}
)

// DecodeACME decodes a profile's acme block. Every problem is a
// diagnostic at the offending attribute or block (file:line:col).
func DecodeACME(b *hcl.Block, ctx *hcl.EvalContext) (*ACMEPolicy, hcl.Diagnostics) {
	content, diags := b.Body.Content(acmeSchema)
	p := &ACMEPolicy{Enabled: true, DefRange: b.DefRange, Window: DefaultACMEWindow, OrderLifetime: DefaultACMEOrderLifetime,
		OrdersPerAccount: DefaultACMEOrdersPerAccount, OrdersPerName: DefaultACMEOrdersPerName,
		Validation: ACMEValidation{Timeout: DefaultACMEValidationTime, HTTPPort: 80, TLSPort: 443}}
	errf := func(rng hcl.Range, summary, format string, a ...any) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, a...), Subject: rng.Ptr()})
	}
	intAttr := func(a *hcl.Attribute, target *int, lo, hi int) {
		if a == nil {
			return
		}
		var f float64
		ds := decodeAttr(a, ctx, &f)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			return
		}
		if f != float64(int(f)) || int(f) < lo || int(f) > hi {
			errf(a.Expr.Range(), "Invalid "+a.Name, "%s must be a whole number from %d to %d.", a.Name, lo, hi)
			return
		}
		*target = int(f)
	}
	attrs := content.Attributes
	if a := attrs["enabled"]; a != nil {
		diags = append(diags, decodeAttr(a, ctx, &p.Enabled)...)
	}
	if a := attrs["eab_required"]; a != nil {
		diags = append(diags, decodeAttr(a, ctx, &p.EABRequired)...)
	}
	if a := attrs["caa_identities"]; a != nil {
		diags = append(diags, decodeAttr(a, ctx, &p.CAAIdentities)...)
		for _, s := range p.CAAIdentities {
			if s == "" || len(s) > 253 {
				errf(a.Expr.Range(), "Invalid caa_identities", "caa_identities: %q is not a domain name.", s)
			}
		}
	}
	if a := attrs["alternate_chains"]; a != nil {
		var files []string
		diags = append(diags, decodeAttr(a, ctx, &files)...)
		for _, f := range files {
			if !filepath.IsAbs(f) {
				f = filepath.Join(filepath.Dir(a.Expr.Range().Filename), f)
			}
			p.AlternateChains = append(p.AlternateChains, f)
		}
	}
	if a := attrs["order_lifetime"]; a != nil {
		diags = append(diags, decodeDuration(a, ctx, &p.OrderLifetime, false)...)
	}
	seenBlock := map[string]hcl.Range{}
	for _, blk := range content.Blocks {
		if prev, ok := seenBlock[blk.Type]; ok {
			errf(blk.DefRange, "Duplicate "+blk.Type+" block", "An acme block takes one %s block; the first is at %s.", blk.Type, prev)
			continue
		}
		seenBlock[blk.Type] = blk.DefRange
		switch blk.Type {
		case "rate_limits":
			rc, ds := blk.Body.Content(acmeRateSchema)
			diags = append(diags, ds...)
			intAttr(rc.Attributes["orders_per_account"], &p.OrdersPerAccount, 0, 1<<30)
			intAttr(rc.Attributes["orders_per_name"], &p.OrdersPerName, 0, 1<<30)
			if a := rc.Attributes["window"]; a != nil {
				diags = append(diags, decodeDuration(a, ctx, &p.Window, false)...)
			}
		case "validation":
			v := &p.Validation
			v.DefRange = blk.DefRange
			vc, ds := blk.Body.Content(acmeValidationSchema)
			diags = append(diags, ds...)
			quorumSet := vc.Attributes["quorum"] != nil
			intAttr(vc.Attributes["quorum"], &v.Quorum, 0, 64)
			intAttr(vc.Attributes["http_port"], &v.HTTPPort, 1, 65535)
			intAttr(vc.Attributes["tls_port"], &v.TLSPort, 1, 65535)
			if a := vc.Attributes["timeout"]; a != nil {
				diags = append(diags, decodeDuration(a, ctx, &v.Timeout, false)...)
			}
			if a := vc.Attributes["resolver"]; a != nil {
				var s string
				ds := decodeAttr(a, ctx, &s)
				diags = append(diags, ds...)
				if !ds.HasErrors() {
					if host, port, err := net.SplitHostPort(s); err != nil || net.ParseIP(host) == nil || !validPort(port) {
						errf(a.Expr.Range(), "Invalid resolver", "resolver = %q: want IP:PORT of a DNS server.", s)
					}
					v.Resolver = s
				}
			}
			names := map[string]hcl.Range{}
			for _, pb := range vc.Blocks {
				name := pb.Labels[0]
				if prev, ok := names[name]; ok {
					errf(pb.LabelRanges[0], "Duplicate perspective", "The perspective %q was already declared at %s.", name, prev)
					continue
				}
				names[name] = pb.DefRange
				per := &ACMEPerspective{Name: name, DefRange: pb.DefRange}
				pc, ds := pb.Body.Content(acmePerspectiveSchema)
				diags = append(diags, ds...)
				if a := pc.Attributes["url"]; a != nil {
					per.URLRange = a.Expr.Range()
					ds := decodeAttr(a, ctx, &per.URL)
					diags = append(diags, ds...)
					if u, err := url.Parse(per.URL); !ds.HasErrors() && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
						errf(a.Expr.Range(), "Invalid url", "url = %q is not an absolute http(s) URL.", per.URL)
					}
				}
				for _, f := range []struct {
					name string
					dst  *string
				}{{"ca", &per.CA}, {"cert", &per.Cert}, {"key", &per.Key}} {
					if a := pc.Attributes[f.name]; a != nil {
						diags = append(diags, decodeAttr(a, ctx, f.dst)...)
						if *f.dst != "" && !filepath.IsAbs(*f.dst) {
							*f.dst = filepath.Join(filepath.Dir(a.Expr.Range().Filename), *f.dst)
						}
					}
				}
				if (per.Cert == "") != (per.Key == "") {
					errf(pb.DefRange, "Incomplete client certificate", "Perspective %q: cert and key go together.", name)
				}
				v.Perspectives = append(v.Perspectives, per)
			}
			if !quorumSet && len(v.Perspectives) > 0 {
				v.Quorum = len(v.Perspectives)
			}
			if v.Quorum > len(v.Perspectives) {
				rng := blk.DefRange
				if a := vc.Attributes["quorum"]; a != nil {
					rng = a.Expr.Range()
				}
				errf(rng, "Quorum out of reach", "quorum = %d but only %d remote perspective(s) are declared.", v.Quorum, len(v.Perspectives))
			}
		}
	}
	return p, diags
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 65536
}
