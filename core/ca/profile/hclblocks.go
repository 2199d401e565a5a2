package profile

import (
	"encoding/asn1"
	"net"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/config"
)

var (
	caConstraintSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "is_ca"}, {Name: "max_path_len"}, {Name: "max_path_len_zero"},
	}}
	nameConstraintsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "critical"},
		{Name: "permitted_dns"}, {Name: "excluded_dns"},
		{Name: "permitted_ip"}, {Name: "excluded_ip"},
		{Name: "permitted_email"}, {Name: "excluded_email"},
		{Name: "permitted_uri"}, {Name: "excluded_uri"},
	}}
	namePolicySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "allow_dns"}, {Name: "deny_dns"},
		{Name: "allow_ip"}, {Name: "deny_ip"},
		{Name: "allow_email"}, {Name: "deny_email"},
		{Name: "allow_uri"}, {Name: "deny_uri"},
		{Name: "allow_wildcards"},
	}}
	certificatePolicySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "cps"}, {Name: "user_notice"},
	}}
	csrWhitelistSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "subject"}, {Name: "public_key_algorithm"}, {Name: "public_key"},
		{Name: "signature_algorithm"}, {Name: "dns_names"}, {Name: "ip_addresses"},
		{Name: "email_addresses"}, {Name: "uris"},
	}}
	lintSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "level"}, {Name: "sources"}, {Name: "ignored_lints"},
		{Name: "ignored_sources"}, {Name: "disabled"},
	}}
)

// blocks decodes the nested blocks of a profile into p. ca_constraint is
// decoded first: name_constraints depends on it.
func (d *hclDecoder) blocks(p *Profile, blocks hcl.Blocks) {
	if b := d.singleBlock(blocks, "ca_constraint"); b != nil {
		p.CA = d.caConstraint(b)
	}
	if b := d.singleBlock(blocks, "name_constraints"); b != nil {
		if !p.CA.IsCA {
			d.errorf(b.DefRange, "Name constraints on a non-CA profile", "The name_constraints block applies only to CA certificates: add ca_constraint { is_ca = true } or remove it.")
		}
		p.NameConstraints = d.nameConstraints(b)
	}
	if b := d.singleBlock(blocks, "policy"); b != nil {
		p.Names = d.namePolicy(b)
	}
	for _, b := range blocks {
		if b.Type == "certificate_policy" {
			if pol, ok := d.certificatePolicy(b); ok {
				p.Policies = append(p.Policies, pol)
			}
		}
	}
	if b := d.singleBlock(blocks, "csr_whitelist"); b != nil {
		p.CSRWhitelist = d.csrWhitelist(b)
	}
	if b := d.singleBlock(blocks, "lint"); b != nil {
		p.Lint = d.lint(b)
	}
	if b := d.singleBlock(blocks, "ct"); b != nil {
		ct, diags := config.DecodeCT(b, d.ctx)
		d.diags = append(d.diags, diags...)
		p.CTLogServers = nilIfEmpty(ct.LogServers)
		if len(ct.Logs) > 0 || ct.LogList != "" || len(ct.LogServers) > 0 {
			p.CT = ct
		}
	}
	if b := d.singleBlock(blocks, "acme"); b != nil {
		a, diags := config.DecodeACME(b, d.ctx)
		d.diags = append(d.diags, diags...)
		p.ACME = a
	}
}

// content decodes a block body against schema, keeping the diagnostics.
func (d *hclDecoder) content(b *hcl.Block, schema *hcl.BodySchema) *hcl.BodyContent {
	content, diags := b.Body.Content(schema)
	d.diags = append(d.diags, diags...)
	return content
}

// caConstraint decodes ca_constraint; path length settings need is_ca.
func (d *hclDecoder) caConstraint(b *hcl.Block) CAConstraint {
	attrs := d.content(b, caConstraintSchema).Attributes
	var c CAConstraint
	c.IsCA = d.boolean(attrs["is_ca"])
	c.MaxPathLen, _ = d.integer(attrs["max_path_len"])
	c.MaxPathLenZero = d.boolean(attrs["max_path_len_zero"])
	c, ok := normalizeCA(c)
	if !ok {
		for _, name := range []string{"max_path_len", "max_path_len_zero"} {
			if a := attrs[name]; a != nil {
				d.errorf(a.NameRange, "Path length without is_ca", "The %s argument applies only to CA profiles: set is_ca = true or remove it.", name)
			}
		}
	}
	return c
}

// nameConstraints decodes the name_constraints block.
func (d *hclDecoder) nameConstraints(b *hcl.Block) *NameConstraints {
	attrs := d.content(b, nameConstraintsSchema).Attributes
	dns := func(s string) error { return checkHostname(s, true, false) }
	return &NameConstraints{
		Critical:       d.boolean(attrs["critical"]),
		PermittedDNS:   nilIfEmpty(d.eachString(attrs["permitted_dns"], "Invalid DNS name", dns)),
		ExcludedDNS:    nilIfEmpty(d.eachString(attrs["excluded_dns"], "Invalid DNS name", dns)),
		PermittedIP:    d.cidrs(attrs["permitted_ip"]),
		ExcludedIP:     d.cidrs(attrs["excluded_ip"]),
		PermittedEmail: nilIfEmpty(d.eachString(attrs["permitted_email"], "Invalid email constraint", checkEmailPattern)),
		ExcludedEmail:  nilIfEmpty(d.eachString(attrs["excluded_email"], "Invalid email constraint", checkEmailPattern)),
		PermittedURI:   nilIfEmpty(d.eachString(attrs["permitted_uri"], "Invalid URI constraint", checkURIHost)),
		ExcludedURI:    nilIfEmpty(d.eachString(attrs["excluded_uri"], "Invalid URI constraint", checkURIHost)),
	}
}

// namePolicy decodes the policy block (allow/deny lists).
func (d *hclDecoder) namePolicy(b *hcl.Block) *NamePolicy {
	attrs := d.content(b, namePolicySchema).Attributes
	dns := func(s string) error { return checkHostname(s, false, true) }
	uri := func(s string) error {
		if strings.Contains(s, "/") || strings.Contains(s, ":") {
			return checkURIHost(s)
		}
		return dns(s)
	}
	return &NamePolicy{
		AllowDNS:       nilIfEmpty(d.eachString(attrs["allow_dns"], "Invalid DNS pattern", dns)),
		DenyDNS:        nilIfEmpty(d.eachString(attrs["deny_dns"], "Invalid DNS pattern", dns)),
		AllowIP:        d.cidrs(attrs["allow_ip"]),
		DenyIP:         d.cidrs(attrs["deny_ip"]),
		AllowEmail:     nilIfEmpty(d.eachString(attrs["allow_email"], "Invalid email pattern", checkEmailPattern)),
		DenyEmail:      nilIfEmpty(d.eachString(attrs["deny_email"], "Invalid email pattern", checkEmailPattern)),
		AllowURI:       nilIfEmpty(d.eachString(attrs["allow_uri"], "Invalid URI host pattern", uri)),
		DenyURI:        nilIfEmpty(d.eachString(attrs["deny_uri"], "Invalid URI host pattern", uri)),
		AllowWildcards: d.boolean(attrs["allow_wildcards"]),
	}
}

// cidrs decodes a list of CIDR ranges, reporting bad ones at the element.
func (d *hclDecoder) cidrs(a *hcl.Attribute) []*net.IPNet {
	var out []*net.IPNet
	for _, s := range d.eachString(a, "Invalid CIDR", func(s string) error { _, err := parseCIDR(s); return err }) {
		n, _ := parseCIDR(s)
		out = append(out, n)
	}
	return out
}

// oids decodes a list of dotted OIDs (allowed_extensions).
func (d *hclDecoder) oids(a *hcl.Attribute) []asn1.ObjectIdentifier {
	var out []asn1.ObjectIdentifier
	for _, s := range d.eachString(a, "Invalid OID", func(s string) error { _, err := parseOID(s); return err }) {
		oid, _ := parseOID(s)
		out = append(out, oid)
	}
	return out
}

// certificatePolicy decodes certificate_policy "OID" { cps, user_notice }.
func (d *hclDecoder) certificatePolicy(b *hcl.Block) (Policy, bool) {
	attrs := d.content(b, certificatePolicySchema).Attributes
	oid, err := parseOID(b.Labels[0])
	if err != nil {
		d.errorf(b.LabelRanges[0], "Invalid OID", "%s", detailFor("policy OID", err))
	}
	pol := Policy{ID: oid}
	if a := attrs["cps"]; a != nil {
		if s, ok := d.str(a); ok {
			if err := checkURL(s); err != nil {
				d.errorf(a.Expr.Range(), "Invalid URL", "%s", detailFor("cps", err))
			}
			pol.Qualifiers = append(pol.Qualifiers, PolicyQualifier{Type: QualifierCPS, Value: s})
		}
	}
	if s, ok := d.str(attrs["user_notice"]); ok {
		pol.Qualifiers = append(pol.Qualifiers, PolicyQualifier{Type: QualifierUserNotice, Value: s})
	}
	return pol, err == nil
}

// csrWhitelist decodes csr_whitelist: which CSR fields are copied.
func (d *hclDecoder) csrWhitelist(b *hcl.Block) *CSRWhitelist {
	attrs := d.content(b, csrWhitelistSchema).Attributes
	return &CSRWhitelist{
		Subject:            d.boolean(attrs["subject"]),
		PublicKeyAlgorithm: d.boolean(attrs["public_key_algorithm"]),
		PublicKey:          d.boolean(attrs["public_key"]),
		SignatureAlgorithm: d.boolean(attrs["signature_algorithm"]),
		DNSNames:           d.boolean(attrs["dns_names"]),
		IPAddresses:        d.boolean(attrs["ip_addresses"]),
		EmailAddresses:     d.boolean(attrs["email_addresses"]),
		URIs:               d.boolean(attrs["uris"]),
	}
}

// lint decodes the lint block. level takes pkid's names directly (results
// at or above it refuse issuance); lint and source names are checked by
// core/ca/lint when the CA starts.
func (d *hclDecoder) lint(b *hcl.Block) Lint {
	attrs := d.content(b, lintSchema).Attributes
	lt := Lint{Level: defaultLintLevel}
	if a := attrs["level"]; a != nil {
		if s, ok := d.str(a); ok {
			if slices.Contains(lintLevels, s) {
				lt.Level = s
			} else {
				detail := "The lint level must be one of " + strings.Join(lintLevels, ", ") + "; results at or above it refuse issuance."
				if hint := suggest(strings.ToLower(s), lintLevels); hint != "" {
					detail += " Did you mean \"" + hint + "\"?"
				}
				d.errorf(a.Expr.Range(), "Invalid lint level", "%q is not a lint level. %s", s, detail)
			}
		}
	}
	if a := attrs["sources"]; a != nil {
		if s, ok := d.strs(a); ok {
			if len(s) == 0 {
				d.errorf(a.Expr.Range(), "Empty lint sources", "An empty sources list would run no lint: leave sources out for the default set, or set disabled = true.")
			}
			lt.Sources = nilIfEmpty(s)
		}
	}
	lt.IgnoredLints, _ = d.strs(attrs["ignored_lints"])
	lt.IgnoredSources, _ = d.strs(attrs["ignored_sources"])
	lt.IgnoredLints = nilIfEmpty(lt.IgnoredLints)
	lt.IgnoredSources = nilIfEmpty(lt.IgnoredSources)
	lt.Disabled = d.boolean(attrs["disabled"])
	return lt
}
