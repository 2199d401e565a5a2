package config

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/pkid/pkid/core/duration"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// rootSchema is the top level of a configuration file; HCL itself reports
// anything else as an unsupported block type or argument.
var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "pkid"},
		{Type: KindKeyStore, LabelNames: []string{"type", "name"}},
		{Type: KindCertStore, LabelNames: []string{"type", "name"}},
		{Type: KindTrust, LabelNames: []string{"type", "name"}},
		{Type: "bundle"},
		{Type: KindScanCheck, LabelNames: []string{"type", "name"}},
		{Type: "plugin", LabelNames: []string{"type"}},
		{Type: "ca", LabelNames: []string{"name"}},
		{Type: "remote", LabelNames: []string{"name"}},
	},
}

var pkidSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "state_dir"}, {Name: "listen"}, {Name: "log_level"},
		{Name: "client_cert_policy"}, {Name: "max_body_bytes"},
		{Name: "public_url"}, {Name: "crl_path"}, {Name: "ocsp_path"}, {Name: "ca_path"},
		{Name: "enable_endpoints"}, {Name: "disable_endpoints"},
		{Name: "metrics_listen"}, {Name: "audit_log"}, {Name: "audit_checkpoint_key"}, {Name: "audit_checkpoint_interval"}, {Name: "audit_certstore"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "tls"},
		{Type: "auth_key", LabelNames: []string{"name"}},
		{Type: "limits"},
		{Type: "scan"},
		{Type: "ui"},
	},
}

var limitsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "max_sans"}, {Name: "max_certificate_bytes"}, {Name: "max_path_len"},
		{Name: "max_rsa_bits"}, {Name: "max_key_generations"},
	},
}

var tlsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "cert", Required: true}, {Name: "key", Required: true}, {Name: "client_ca"}, {Name: "min_version"},
	},
}

var authKeySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "key", Required: true}},
}

// instanceMetaSchema holds the attributes of a plugin instance block that the
// core consumes; the rest of the body belongs to the plugin.
var instanceMetaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "isolation"}},
}

var externalPluginSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path", Required: true},
		{Name: "sha256", Required: true},
		{Name: "env"},
		{Name: "args"},
	},
}

var caSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: KindKeyStore, Required: true},
		{Name: "key", Required: true},
		{Name: "certificate"},
		{Name: "chain"},
		{Name: KindCertStore},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "profile", LabelNames: []string{"name"}}, {Type: "crl"}, {Type: "ocsp"}},
}

var crlSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "url"}, {Name: "delta_url"}, {Name: "validity"}, {Name: "interval"}, {Name: "delta_interval"}, {Name: "on_revoke"},
	},
}

var ocspSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "url"}, {Name: "validity"}, {Name: "refresh_interval"}, {Name: "refresh_within"},
		{Name: "responder_key"}, {Name: "responder_certificate"},
	},
}

// decodeFile adds the blocks of one file to c. dir is the file's directory.
func (c *Config) decodeFile(f *hcl.File, dir string) hcl.Diagnostics {
	ctx := evalContext(dir)
	content, diags := f.Body.Content(rootSchema)
	for _, b := range content.Blocks {
		var ds hcl.Diagnostics
		switch b.Type {
		case "pkid":
			ds = c.decodePkid(b, ctx)
		case KindKeyStore, KindCertStore, KindTrust, KindScanCheck:
			var pb *PluginBlock
			pb, ds = decodeInstance(b, ctx)
			switch b.Type {
			case KindKeyStore:
				c.KeyStores = append(c.KeyStores, pb)
			case KindCertStore:
				c.CertStores = append(c.CertStores, pb)
			case KindTrust:
				c.Trusts = append(c.Trusts, pb)
			default:
				c.ScanChecks = append(c.ScanChecks, pb)
			}
		case "bundle":
			ds = c.decodeBundle(b, ctx, dir)
		case "plugin":
			var ep *ExternalPlugin
			ep, ds = decodeExternalPlugin(b, ctx, dir)
			c.Plugins = append(c.Plugins, ep)
		case "ca":
			var ca *CA
			ca, ds = decodeCA(b, ctx)
			c.CAs = append(c.CAs, ca)
		case "remote":
			var r *Remote
			r, ds = decodeRemote(b, ctx)
			c.Remotes = append(c.Remotes, r)
		}
		diags = append(diags, ds...)
	}
	return diags
}

func (c *Config) decodePkid(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	if c.Pkid.DefRange != (hcl.Range{}) {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate pkid block",
			Detail:   fmt.Sprintf("Only one pkid block is allowed; another was declared at %s.", c.Pkid.DefRange),
			Subject:  b.DefRange.Ptr(),
		}}
	}
	content, diags := b.Body.Content(pkidSchema)
	c.Pkid.DefRange = b.DefRange
	diags = append(diags, decodeAttr(content.Attributes["state_dir"], ctx, &c.Pkid.StateDir)...)
	diags = append(diags, decodeAttr(content.Attributes["listen"], ctx, &c.Pkid.Listen)...)
	diags = append(diags, decodeAttr(content.Attributes["log_level"], ctx, &c.Pkid.LogLevel)...)
	diags = append(diags, decodeAttr(content.Attributes["client_cert_policy"], ctx, &c.Pkid.ClientCertPolicy)...)
	diags = append(diags, decodeAttr(content.Attributes["max_body_bytes"], ctx, &c.Pkid.MaxBodyBytes)...)
	diags = append(diags, decodeURL(content.Attributes["public_url"], ctx, &c.Pkid.PublicURL)...)
	diags = append(diags, decodeAttr(content.Attributes["enable_endpoints"], ctx, &c.Pkid.EnableEndpoints)...)
	diags = append(diags, decodeAttr(content.Attributes["disable_endpoints"], ctx, &c.Pkid.DisableEndpoints)...)
	diags = append(diags, c.decodeOps(content, ctx)...)
	for name, target := range map[string]*string{"crl_path": &c.Pkid.CRLPath, "ocsp_path": &c.Pkid.OCSPPath, "ca_path": &c.Pkid.CAPath} {
		diags = append(diags, decodePath(content.Attributes[name], ctx, target)...)
	}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "tls":
			diags = append(diags, c.decodeTLS(blk, ctx)...)
		case "auth_key":
			diags = append(diags, c.decodeAuthKey(blk, ctx)...)
		case "limits":
			diags = append(diags, c.decodeLimits(blk, ctx)...)
		case "scan":
			diags = append(diags, c.decodeScan(blk, ctx)...)
		case "ui":
			diags = append(diags, c.decodeUI(blk, ctx)...)
		}
	}
	return diags
}

func (c *Config) decodeLimits(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	if c.Pkid.Limits.DefRange != (hcl.Range{}) {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Duplicate limits block",
			Detail: fmt.Sprintf("Only one limits block is allowed; another was declared at %s.", c.Pkid.Limits.DefRange), Subject: b.DefRange.Ptr()}}
	}
	content, diags := b.Body.Content(limitsSchema)
	l := &c.Pkid.Limits
	l.DefRange = b.DefRange
	for _, f := range []struct {
		name   string
		target *int
		min    int
		max    int
	}{
		{"max_sans", &l.MaxSANs, 1, 100000},
		{"max_certificate_bytes", &l.MaxCertificateBytes, 1024, 16 << 20},
		{"max_path_len", &l.MaxPathLen, 1, 1000}, // 0 would read as "unset"
		{"max_rsa_bits", &l.MaxRSABits, 2048, 16384},
		{"max_key_generations", &l.MaxKeyGenerations, 1, 1024},
	} {
		a := content.Attributes[f.name]
		ds := decodeAttr(a, ctx, f.target)
		diags = append(diags, ds...)
		if a == nil || ds.HasErrors() {
			continue
		}
		if *f.target < f.min || *f.target > f.max {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Limit out of range",
				Detail:  fmt.Sprintf("%s must be between %d and %d, not %d.", f.name, f.min, f.max, *f.target),
				Subject: a.Expr.Range().Ptr()})
		}
	}
	return diags
}

func (c *Config) decodeTLS(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	if c.Pkid.TLS.DefRange != (hcl.Range{}) {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Duplicate tls block",
			Detail: fmt.Sprintf("Only one tls block is allowed; another was declared at %s.", c.Pkid.TLS.DefRange), Subject: b.DefRange.Ptr()}}
	}
	content, diags := b.Body.Content(tlsSchema)
	t := &c.Pkid.TLS
	t.DefRange = b.DefRange
	diags = append(diags, decodeAttr(content.Attributes["cert"], ctx, &t.Cert)...)
	diags = append(diags, decodeAttr(content.Attributes["key"], ctx, &t.Key)...)
	diags = append(diags, decodeAttr(content.Attributes["client_ca"], ctx, &t.ClientCA)...)
	diags = append(diags, decodeAttr(content.Attributes["min_version"], ctx, &t.MinVersion)...)
	if a := content.Attributes["min_version"]; a != nil && !diags.HasErrors() {
		switch t.MinVersion {
		case "1.0", "1.1", "1.2", "1.3":
		default:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid TLS version",
				Detail: fmt.Sprintf("min_version must be \"1.0\", \"1.1\", \"1.2\" or \"1.3\", not %q.", t.MinVersion), Subject: a.Expr.Range().Ptr()})
		}
	}
	return diags
}

func (c *Config) decodeAuthKey(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	name := b.Labels[0]
	if prev, ok := c.Pkid.AuthKeys[name]; ok {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Duplicate auth_key",
			Detail: fmt.Sprintf("auth_key %q was already declared at %s.", name, prev.DefRange), Subject: b.DefRange.Ptr()}}
	}
	content, diags := b.Body.Content(authKeySchema)
	var hexKey string
	diags = append(diags, decodeAttr(content.Attributes["key"], ctx, &hexKey)...)
	if diags.HasErrors() {
		return diags
	}
	key, err := hex.DecodeString(strings.TrimSpace(hexKey))
	if err != nil || len(key) < 16 {
		// Never echo the key material.
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid auth key",
			Detail:  fmt.Sprintf("auth_key %q must be at least 16 bytes written as hex (e.g. from `openssl rand -hex 32`).", name),
			Subject: content.Attributes["key"].Expr.Range().Ptr()})
	}
	if c.Pkid.AuthKeys == nil {
		c.Pkid.AuthKeys = map[string]AuthKey{}
	}
	c.Pkid.AuthKeys[name] = AuthKey{Key: key, DefRange: b.DefRange}
	return diags
}

func decodeInstance(b *hcl.Block, ctx *hcl.EvalContext) (*PluginBlock, hcl.Diagnostics) {
	pb := &PluginBlock{
		Kind:        b.Type,
		Type:        b.Labels[0],
		Name:        b.Labels[1],
		DefRange:    b.DefRange,
		TypeRange:   b.LabelRanges[0],
		NameRange:   b.LabelRanges[1],
		EvalContext: ctx,
	}
	diags := checkName(b.Type+" plugin type", pb.Type, pb.TypeRange)
	diags = append(diags, checkName(b.Type+" name", pb.Name, pb.NameRange)...)
	// The remaining body hides isolation, so a plugin's schema never sees
	// (or rejects) the core's meta-attribute.
	content, remain, ds := b.Body.PartialContent(instanceMetaSchema)
	diags = append(diags, ds...)
	pb.Body = remain
	if a := content.Attributes["isolation"]; a != nil {
		pb.isolationRange = a.Expr.Range()
		diags = append(diags, decodeAttr(a, ctx, &pb.Isolation)...)
	}
	return pb, diags
}

func decodeExternalPlugin(b *hcl.Block, ctx *hcl.EvalContext, dir string) (*ExternalPlugin, hcl.Diagnostics) {
	ep := &ExternalPlugin{Type: b.Labels[0], DefRange: b.DefRange}
	diags := checkName("plugin type", ep.Type, b.LabelRanges[0])
	content, ds := b.Body.Content(externalPluginSchema)
	diags = append(diags, ds...)
	diags = append(diags, decodeAttr(content.Attributes["path"], ctx, &ep.Path)...)
	if ep.Path != "" && !filepath.IsAbs(ep.Path) {
		ep.Path = filepath.Join(dir, ep.Path)
	}
	if a := content.Attributes["sha256"]; a != nil {
		ds := decodeAttr(a, ctx, &ep.SHA256)
		diags = append(diags, ds...)
		if !ds.HasErrors() && !isSHA256Hex(ep.SHA256) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid sha256",
				Detail:   "The sha256 argument must be the plugin binary's SHA-256 digest as 64 lowercase hexadecimal digits, as printed by sha256sum.",
				Subject:  a.Expr.Range().Ptr(),
			})
		}
	}
	diags = append(diags, decodeAttr(content.Attributes["env"], ctx, &ep.Env)...)
	diags = append(diags, decodeAttr(content.Attributes["args"], ctx, &ep.Args)...)
	return ep, diags
}

func decodeCA(b *hcl.Block, ctx *hcl.EvalContext) (*CA, hcl.Diagnostics) {
	ca := &CA{Name: b.Labels[0], DefRange: b.DefRange}
	diags := checkName("ca name", ca.Name, b.LabelRanges[0])
	content, ds := b.Body.Content(caSchema)
	diags = append(diags, ds...)
	if a := content.Attributes[KindKeyStore]; a != nil {
		ca.KeyStoreRange = a.Expr.Range()
		ca.KeyStore, ds = decodeRef(a, KindKeyStore)
		diags = append(diags, ds...)
	}
	if a := content.Attributes[KindCertStore]; a != nil {
		ca.CertStoreRange = a.Expr.Range()
		ca.CertStore, ds = decodeRef(a, KindCertStore)
		diags = append(diags, ds...)
	}
	diags = append(diags, decodeAttr(content.Attributes["key"], ctx, &ca.Key)...)
	diags = append(diags, decodeAttr(content.Attributes["certificate"], ctx, &ca.Certificate)...)
	diags = append(diags, decodeAttr(content.Attributes["chain"], ctx, &ca.Chain)...)

	ca.CRL = &CRLSettings{Validity: 168 * time.Hour, Interval: time.Hour, DeltaInterval: 15 * time.Minute, OnRevoke: true}
	ca.OCSP = &OCSPSettings{Validity: 96 * time.Hour, RefreshInterval: time.Hour}
	seen := map[string]*Profile{}
	var crlSeen, ocspSeen *hcl.Block
	for _, pb := range content.Blocks {
		switch pb.Type {
		case "crl", "ocsp":
			prev := &crlSeen
			if pb.Type == "ocsp" {
				prev = &ocspSeen
			}
			if *prev != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + pb.Type + " block",
					Detail: fmt.Sprintf("Only one %s block is allowed per ca; another was declared at %s.", pb.Type, (*prev).DefRange), Subject: pb.DefRange.Ptr()})
				continue
			}
			*prev = pb
			if pb.Type == "crl" {
				diags = append(diags, decodeCRL(pb, ctx, ca.CRL)...)
			} else {
				diags = append(diags, decodeOCSP(pb, ctx, ca.OCSP)...)
			}
			continue
		}
		p := &Profile{Name: pb.Labels[0], Body: pb.Body, DefRange: pb.DefRange, EvalContext: ctx}
		if prev := seen[p.Name]; prev != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate profile",
				Detail:   fmt.Sprintf("A profile named %q was already declared in this ca at %s. Profile names must be unique per ca.", p.Name, prev.DefRange),
				Subject:  p.DefRange.Ptr(),
			})
			continue
		}
		seen[p.Name] = p
		ca.Profiles = append(ca.Profiles, p)
	}
	return ca, diags
}

func decodeCRL(b *hcl.Block, ctx *hcl.EvalContext, c *CRLSettings) hcl.Diagnostics {
	content, diags := b.Body.Content(crlSchema)
	c.DefRange = b.DefRange
	diags = append(diags, decodeURL(content.Attributes["url"], ctx, &c.URL)...)
	diags = append(diags, decodeURL(content.Attributes["delta_url"], ctx, &c.DeltaURL)...)
	diags = append(diags, decodeDuration(content.Attributes["validity"], ctx, &c.Validity, false)...)
	diags = append(diags, decodeDuration(content.Attributes["interval"], ctx, &c.Interval, false)...)
	diags = append(diags, decodeDuration(content.Attributes["delta_interval"], ctx, &c.DeltaInterval, true)...)
	diags = append(diags, decodeAttr(content.Attributes["on_revoke"], ctx, &c.OnRevoke)...)
	return diags
}

func decodeOCSP(b *hcl.Block, ctx *hcl.EvalContext, o *OCSPSettings) hcl.Diagnostics {
	content, diags := b.Body.Content(ocspSchema)
	o.DefRange = b.DefRange
	diags = append(diags, decodeURL(content.Attributes["url"], ctx, &o.URL)...)
	diags = append(diags, decodeDuration(content.Attributes["validity"], ctx, &o.Validity, false)...)
	diags = append(diags, decodeDuration(content.Attributes["refresh_interval"], ctx, &o.RefreshInterval, false)...)
	diags = append(diags, decodeDuration(content.Attributes["refresh_within"], ctx, &o.RefreshWithin, false)...)
	diags = append(diags, decodeAttr(content.Attributes["responder_key"], ctx, &o.ResponderKey)...)
	diags = append(diags, decodeAttr(content.Attributes["responder_certificate"], ctx, &o.ResponderCertificate)...)
	if (o.ResponderKey == "") != (o.ResponderCertificate == "") && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incomplete delegated responder",
			Detail: "responder_key and responder_certificate go together: the key stays in the CA's keystore, the certificate names it.", Subject: b.DefRange.Ptr()})
	}
	return diags
}

// decodeDuration reads a duration string ("90m", "168h", "7d"); zeroOK
// admits "0" (to turn something off).
func decodeDuration(a *hcl.Attribute, ctx *hcl.EvalContext, target *time.Duration, zeroOK bool) hcl.Diagnostics {
	var s string
	diags := decodeAttr(a, ctx, &s)
	if a == nil || diags.HasErrors() || s == "" {
		return diags
	}
	d, err := duration.Parse(s)
	if err == nil && (d < 0 || (d == 0 && !zeroOK)) {
		err = fmt.Errorf("must be positive")
	}
	if err != nil {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid duration",
			Detail: fmt.Sprintf("%s = %q: %v (write e.g. \"90m\", \"168h\" or \"7d\").", a.Name, s, err), Subject: a.Expr.Range().Ptr()})
	}
	*target = d
	return diags
}

// decodeURL reads an absolute http(s) URL.
func decodeURL(a *hcl.Attribute, ctx *hcl.EvalContext, target *string) hcl.Diagnostics {
	var s string
	diags := decodeAttr(a, ctx, &s)
	if a == nil || diags.HasErrors() || s == "" {
		return diags
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid URL",
			Detail: fmt.Sprintf("%s = %q must be an absolute http:// or https:// URL.", a.Name, s), Subject: a.Expr.Range().Ptr()})
	}
	*target = strings.TrimRight(s, "/")
	return diags
}

// decodePath reads an URL path such as "/crl".
func decodePath(a *hcl.Attribute, ctx *hcl.EvalContext, target *string) hcl.Diagnostics {
	var s string
	diags := decodeAttr(a, ctx, &s)
	if a == nil || diags.HasErrors() || s == "" {
		return diags
	}
	if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, "?#") || s == "/" || (s == "/api" || strings.HasPrefix(s, "/api/")) {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid path",
			Detail: fmt.Sprintf("%s = %q must be an URL path starting with / (not / itself, not under /api/), without ? or #.", a.Name, s), Subject: a.Expr.Range().Ptr()})
	}
	*target = strings.TrimRight(s, "/")
	return diags
}

// decodeRef reads a reference such as keystore.dev and returns the instance
// name. References are static traversals, not values, so a CA names its
// keystore the way Terraform names resources and typos get a source range.
func decodeRef(a *hcl.Attribute, kind string) (string, hcl.Diagnostics) {
	invalid := hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid reference",
		Detail:   fmt.Sprintf("The %s argument must be a reference to a %s instance such as %s.main (a name, not a quoted string).", a.Name, kind, kind),
		Subject:  a.Expr.Range().Ptr(),
	}}
	tr, ds := hcl.AbsTraversalForExpr(a.Expr)
	if ds.HasErrors() || len(tr) != 2 || tr.RootName() != kind {
		return "", invalid
	}
	switch step := tr[1].(type) {
	case hcl.TraverseAttr:
		return step.Name, nil
	case hcl.TraverseIndex:
		// keystore["dev"] is accepted too: it is unambiguous.
		if k := step.Key; k.Type().Equals(cty.String) && k.IsKnown() && !k.IsNull() {
			return k.AsString(), nil
		}
	}
	return "", invalid
}

// decodeAttr decodes an optional attribute into target (a *string or
// *[]string); a nil attribute or a null value leaves target unchanged.
// It does what gohcl.DecodeExpression does; gohcl itself is not used because
// it pulls in hclwrite and its dependencies.
func decodeAttr(a *hcl.Attribute, ctx *hcl.EvalContext, target any) hcl.Diagnostics {
	if a == nil {
		return nil
	}
	val, diags := a.Expr.Value(ctx)
	if diags.HasErrors() || val.IsNull() {
		return diags
	}
	ty, err := gocty.ImpliedType(target)
	if err != nil {
		panic(fmt.Sprintf("config: unsupported target %T: %v", target, err)) // programming error
	}
	val, err = convert.Convert(val, ty)
	if err == nil {
		err = gocty.FromCtyValue(val, target)
	}
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Incorrect attribute value type",
			Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s.", a.Name, err),
			Subject:     a.Expr.Range().Ptr(),
			Expression:  a.Expr,
			EvalContext: ctx,
		})
	}
	return diags
}

// checkName rejects labels that could not be written as a reference or
// typed as a CLI word (keystore.NAME, pkid keystore NAME ...).
func checkName(what, name string, rng hcl.Range) hcl.Diagnostics {
	if hclsyntax.ValidIdentifier(name) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid " + what,
		Detail:   fmt.Sprintf("%q is not a valid %s: it must start with a letter or underscore and contain only letters, digits, underscores and dashes.", name, what),
		Subject:  rng.Ptr(),
	}}
}

// isSHA256Hex reports whether s is 64 lowercase hex digits.
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
