package config

import (
	"fmt"
	"slices"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
)

// resolve runs the checks that need all files merged: duplicate names and
// references from ca blocks to instances. Duplicates are dropped after being
// reported, so later stages see one definition per name.
func (c *Config) resolve() hcl.Diagnostics {
	var diags hcl.Diagnostics
	var ds hcl.Diagnostics
	c.KeyStores, ds = dedupInstances(c.KeyStores)
	diags = append(diags, ds...)
	c.CertStores, ds = dedupInstances(c.CertStores)
	diags = append(diags, ds...)
	c.Trusts, ds = dedupInstances(c.Trusts)
	diags = append(diags, ds...)
	c.ScanChecks, ds = dedupInstances(c.ScanChecks)
	diags = append(diags, ds...)

	seenPlugins := map[string]*ExternalPlugin{}
	plugins := c.Plugins[:0]
	for _, p := range c.Plugins {
		if prev := seenPlugins[p.Type]; prev != nil {
			diags = append(diags, duplicate("plugin", fmt.Sprintf("A plugin of type %q was already declared at %s. Each plugin type may be declared once.", p.Type, prev.DefRange), p.DefRange))
			continue
		}
		seenPlugins[p.Type] = p
		plugins = append(plugins, p)
	}
	c.Plugins = plugins

	seenCAs := map[string]*CA{}
	cas := c.CAs[:0]
	for _, ca := range c.CAs {
		if prev := seenCAs[ca.Name]; prev != nil {
			diags = append(diags, duplicate("ca", fmt.Sprintf("A ca named %q was already declared at %s. CA names must be unique.", ca.Name, prev.DefRange), ca.DefRange))
			continue
		}
		seenCAs[ca.Name] = ca
		cas = append(cas, ca)
	}
	c.CAs = cas

	seenRemotes := map[string]*Remote{}
	remotes := c.Remotes[:0]
	for _, r := range c.Remotes {
		if prev := seenRemotes[r.Name]; prev != nil {
			diags = append(diags, duplicate("remote", fmt.Sprintf("A remote named %q was already declared at %s.", r.Name, prev.DefRange), r.DefRange))
			continue
		}
		seenRemotes[r.Name] = r
		remotes = append(remotes, r)
	}
	c.Remotes = remotes
	diags = append(diags, c.checkProfileRemotes()...)

	keystores, certstores := instanceNames(c.KeyStores), instanceNames(c.CertStores)
	for _, ca := range c.CAs {
		diags = append(diags, checkRef(KindKeyStore, ca.KeyStore, ca.KeyStoreRange, keystores)...)
		diags = append(diags, checkRef(KindCertStore, ca.CertStore, ca.CertStoreRange, certstores)...)
	}
	return diags
}

// dedupInstances reports instances whose name is already taken within their
// kind (whatever their type: the CLI and references use the name alone).
func dedupInstances(list []*PluginBlock) ([]*PluginBlock, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	seen := map[string]*PluginBlock{}
	out := list[:0]
	for _, b := range list {
		if prev := seen[b.Name]; prev != nil {
			diags = append(diags, duplicate(b.Kind, fmt.Sprintf("A %s named %q was already declared at %s. Instance names must be unique per kind, whatever their plugin type.", b.Kind, b.Name, prev.DefRange), b.DefRange))
			continue
		}
		seen[b.Name] = b
		out = append(out, b)
	}
	return out, diags
}

func duplicate(kind, detail string, rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + kind + " declaration",
		Detail:   detail,
		Subject:  rng.Ptr(),
	}
}

func instanceNames(list []*PluginBlock) []string {
	names := make([]string, len(list))
	for i, b := range list {
		names[i] = b.Name
	}
	return names
}

// checkRef reports a reference to an instance that is not declared. An
// empty name means no (valid) reference was given and is not checked here.
func checkRef(kind, name string, rng hcl.Range, declared []string) hcl.Diagnostics {
	if name == "" || slices.Contains(declared, name) {
		return nil
	}
	detail := fmt.Sprintf("No %s named %q is declared.", kind, name)
	if s := suggest(name, declared); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Reference to undeclared " + kind,
		Detail:   detail,
		Subject:  rng.Ptr(),
	}}
}

// suggest returns the candidate closest to given if it is close enough to
// be a likely typo, else "". Distance below 3 is what HCL and Terraform use.
func suggest(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}
