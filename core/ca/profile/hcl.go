package profile

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/duration"
)

// profileSchema is the body of a `profile "NAME"` block: CFSSL's profile
// keys in snake_case, with the structured settings as nested blocks.
// Decoding with the full schema makes HCL report typos itself.
var profileSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "usages"}, {Name: "expiry"}, {Name: "backdate"},
		{Name: "not_before"}, {Name: "not_after"},
		{Name: "issuer_urls"}, {Name: "ocsp_url"}, {Name: "crl_url"}, {Name: "ocsp_no_check"},
		{Name: "copy_extensions"}, {Name: "allowed_extensions"}, {Name: "name_whitelist"},
		{Name: "client_provides_serial_numbers"},
		{Name: "auth_key"}, {Name: "prev_auth_key"}, {Name: "auth_replay_protection"}, {Name: "remote"}, {Name: "remote_auth_key"},
		{Name: "signature_algorithm"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "ca_constraint"},
		{Type: "name_constraints"},
		{Type: "policy"},
		{Type: "certificate_policy", LabelNames: []string{"oid"}},
		{Type: "csr_whitelist"},
		{Type: "lint"},
		{Type: "ct"},
		{Type: "acme"},
	},
}

// forwardingAttrs are the profile attributes that still matter when the
// profile forwards to a remote (as forwardingKeys for CFSSL).
var forwardingAttrs = map[string]bool{"remote": true, "remote_auth_key": true, "auth_key": true, "prev_auth_key": true, "auth_replay_protection": true}

// DecodeHCL decodes the profile blocks of one ca block into a Config.
//
// The profile named "default" becomes Config.Default (it is not in
// Config.Profiles, like CFSSL's signing.default); without one the default
// is BuiltinDefault(). Other profiles inherit issuer_urls, ocsp_url and
// crl_url from the default when they leave them unset, as in CFSSL.
// AuthKeys and Remotes are empty: HCL profiles name them, and the daemon
// resolves the names.
//
// The semantics are those of ParseCFSSL, but stricter: unknown usage
// names are errors (with a did-you-mean), as are path length settings
// without is_ca, and URLs, CIDRs and DNS names are checked. Every problem is a diagnostic whose Subject is the
// offending attribute, list element, label or block; an unanchored
// name_whitelist is a warning; local issuance settings on a forwarding
// profile are errors.
// The Config is nil when there are errors.
func DecodeHCL(profiles []*config.Profile) (*Config, hcl.Diagnostics) {
	cfg := &Config{
		Profiles: map[string]*Profile{},
		AuthKeys: map[string]AuthKey{},
		Remotes:  map[string][]string{},
	}
	var diags hcl.Diagnostics
	for _, cp := range profiles {
		if cp == nil || cp.Body == nil {
			continue
		}
		d := &hclDecoder{ctx: cp.EvalContext}
		p := d.profile(cp, cp.Name == "default")
		diags = append(diags, d.diags...)
		if cp.Name == "default" {
			cfg.Default = p
		} else {
			cfg.Profiles[cp.Name] = p
		}
	}
	if cfg.Default == nil {
		cfg.Default = BuiltinDefault()
	}
	for _, p := range cfg.Profiles {
		inheritURLs(p, cfg.Default)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return cfg, diags
}

// profile decodes one profile block and applies CFSSL's profile checks (see validate).
func (d *hclDecoder) profile(cp *config.Profile, isDefault bool) *Profile {
	p := &Profile{Name: cp.Name, Lint: Lint{Level: defaultLintLevel}}
	errsBefore := len(d.diags.Errs())
	content, diags := cp.Body.Content(profileSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes

	usageErrs := d.usages(p, attrs["usages"])
	if s, ok := d.str(attrs["expiry"]); ok {
		if v, err := parseExpiry(s); err != nil {
			d.errorf(attrs["expiry"].Expr.Range(), "Invalid expiry", "%s", detailFor("expiry", err))
		} else {
			p.Expiry = v
		}
	}
	if s, ok := d.str(attrs["backdate"]); ok {
		if v, err := duration.Parse(s); err != nil {
			d.errorf(attrs["backdate"].Expr.Range(), "Invalid backdate", "%s", detailFor("backdate", err))
		} else {
			p.Backdate, p.BackdateSet = v, true
		}
	}
	p.NotBefore = d.timestamp(attrs["not_before"])
	p.NotAfter = d.timestamp(attrs["not_after"])
	if err := checkWindow(p.NotBefore, p.NotAfter); err != nil {
		d.errorf(attrs["not_after"].Expr.Range(), "Invalid not_after", "%s", detailFor("not_after", err))
	}
	d.urls(p, attrs)
	p.OCSPNoCheck = d.boolean(attrs["ocsp_no_check"])
	p.CopyExtensions = d.boolean(attrs["copy_extensions"])
	p.ClientProvidesSerialNumbers = d.boolean(attrs["client_provides_serial_numbers"])
	p.AllowedExtensions = d.oids(attrs["allowed_extensions"])
	if a := attrs["name_whitelist"]; a != nil {
		if s, ok := d.str(a); ok {
			re, warning, err := compileWhitelist(s)
			switch {
			case err != nil:
				d.errorf(a.Expr.Range(), "Invalid name_whitelist", "%s", detailFor("name_whitelist", err))
			case warning != "":
				p.NameWhitelist = re
				d.warnf(a.Expr.Range(), "Unanchored name_whitelist", "The %s.", warning)
			default:
				p.NameWhitelist = re
			}
		}
	}
	p.AuthKey, _ = d.str(attrs["auth_key"])
	p.PrevAuthKey, _ = d.str(attrs["prev_auth_key"])
	p.AuthReplayProtection = d.boolean(attrs["auth_replay_protection"])
	p.Remote = d.remoteRef(attrs["remote"])
	if a := attrs["remote_auth_key"]; a != nil {
		if s, ok := d.str(a); ok {
			switch {
			case p.Remote == "":
				d.errorf(a.NameRange, "remote_auth_key without remote", `The remote_auth_key argument authenticates this daemon to a remote; it needs "remote".`)
			case !strings.HasPrefix(s, "env:") && !strings.HasPrefix(s, "file:"):
				// Never echo the value: it may be the key itself.
				d.errorf(a.Expr.Range(), "Invalid remote_auth_key", `remote_auth_key must name where the hex key is, "env:VAR" or "file:PATH", never the key itself.`)
			default:
				p.RemoteAuthKey = s
			}
		}
	}
	if a := attrs["signature_algorithm"]; a != nil {
		if s, ok := d.str(a); ok {
			if alg, err := parseSignatureAlgorithm(s); err != nil {
				d.errorf(a.Expr.Range(), "Invalid signature_algorithm", "%s", detailFor("signature_algorithm", err))
			} else {
				p.SignatureAlgorithm = alg
			}
		}
	}
	d.blocks(p, content.Blocks)

	if p.PrevAuthKey != "" && p.AuthKey == "" {
		d.warnf(attrs["prev_auth_key"].NameRange, "prev_auth_key without auth_key", `The prev_auth_key argument has no effect without "auth_key".`)
	}
	if p.AuthReplayProtection && p.AuthKey == "" {
		d.warnf(attrs["auth_replay_protection"].NameRange, "auth_replay_protection without auth_key", `The auth_replay_protection argument has no effect without "auth_key".`)
	}
	if p.Remote != "" {
		d.forwarding(attrs["remote"], content)
		return p
	}
	if len(d.diags.Errs()) > errsBefore {
		return p // the checks below would only repeat what is wrong
	}
	if p.Expiry == 0 && p.NotAfter.IsZero() {
		d.errorf(cp.DefRange, "Missing expiry", "Profile %q needs an expiry (a duration such as \"2160h\" or \"90d\") or a fixed not_after time.", cp.Name)
	}
	if !isDefault && usageErrs == 0 {
		if msg := usagesProblem(p); msg != "" {
			rng := cp.DefRange
			if a := attrs["usages"]; a != nil {
				rng = a.Expr.Range()
			}
			d.errorf(rng, "Missing usages", "Profile %q: %s; list at least one usage such as \"digital signature\" or \"server auth\".", cp.Name, msg)
		}
	}
	return p
}

// usages resolves the usages attribute, reporting each unknown name at
// its list element. It returns the number of errors reported.
func (d *hclDecoder) usages(p *Profile, a *hcl.Attribute) int {
	names, ok := d.strs(a)
	if !ok {
		if a != nil {
			return 1
		}
		return 0
	}
	p.Usages = names
	var unknown []string
	p.KeyUsage, p.ExtKeyUsage, p.UnknownExtKeyUsage, unknown = ResolveUsages(names)
	n := 0
	for i, u := range names {
		if len(unknown) == 0 {
			break
		}
		if u != unknown[0] {
			continue
		}
		unknown = unknown[1:]
		n++
		detail := fmt.Sprintf("%q is not a usage name or a dotted OID.", u)
		if hint := suggestUsage(u); hint != "" {
			detail += fmt.Sprintf(" Did you mean %q?", hint)
		} else {
			detail += " Usage names are " + strings.Join(knownUsageNames(), ", ") + "."
		}
		d.errorf(elemRange(a, i), "Unknown usage", "%s", detail)
	}
	return n
}

// timestamp decodes an RFC 3339 time attribute.
func (d *hclDecoder) timestamp(a *hcl.Attribute) time.Time {
	s, ok := d.str(a)
	if !ok {
		return time.Time{}
	}
	t, err := parseTimestamp(s)
	if err != nil {
		d.errorf(a.Expr.Range(), "Invalid "+a.Name, "%s", detailFor(a.Name, err))
	}
	return t
}

// urls decodes issuer_urls, ocsp_url and crl_url.
func (d *hclDecoder) urls(p *Profile, attrs hcl.Attributes) {
	if a := attrs["issuer_urls"]; a != nil {
		if urls := d.eachString(a, "Invalid URL", checkURL); urls != nil {
			p.IssuerURLs = urls
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"ocsp_url", &p.OCSPURL}, {"crl_url", &p.CRLURL}} {
		a := attrs[f.name]
		s, ok := d.str(a)
		if !ok || s == "" {
			continue
		}
		if err := checkURL(s); err != nil {
			d.errorf(a.Expr.Range(), "Invalid URL", "%s", detailFor(f.name, err))
			continue
		}
		*f.dst = s
	}
}

// forwarding refuses local issuance settings on a profile that forwards
// to a remote, which would ignore them.
func (d *hclDecoder) forwarding(remote *hcl.Attribute, content *hcl.BodyContent) {
	var local []string
	for name := range content.Attributes {
		if !forwardingAttrs[name] {
			local = append(local, name)
		}
	}
	for _, b := range content.Blocks {
		local = append(local, b.Type)
	}
	if len(local) == 0 {
		return
	}
	slices.Sort(local)
	local = slices.Compact(local)
	// CFSSL warns and ignores them; in native HCL they are a mistake
	// (the remote's own profile decides), so they are refused.
	d.errorf(remote.NameRange, "Local settings on a forwarding profile", "This profile forwards to a remote, whose own profile decides what is issued: remove its local settings (%s).", strings.Join(local, ", "))
}

// remoteRef reads a profile's remote: a reference such as remote.upstream
// (the remote "upstream" block) or, as before, its name as a string. The
// configuration checks the name exists.
func (d *hclDecoder) remoteRef(a *hcl.Attribute) string {
	if a == nil {
		return ""
	}
	if tr, ds := hcl.AbsTraversalForExpr(a.Expr); !ds.HasErrors() && tr.RootName() == "remote" {
		if len(tr) == 2 {
			if step, ok := tr[1].(hcl.TraverseAttr); ok {
				return step.Name
			}
		}
		d.errorf(a.Expr.Range(), "Invalid remote", "The remote argument must be a reference such as remote.upstream.")
		return ""
	}
	s, _ := d.str(a)
	return s
}
