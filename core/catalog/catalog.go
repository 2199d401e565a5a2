// Package catalog knows which plugins exist: the builtins compiled into pkid
// (one explicit map) and the external plugins a configuration registers,
// each pinned by sha256. An external plugin never replaces a builtin.
package catalog

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/pluginhost"
	keystorefile "github.com/pkid/pkid/plugins/keystore-file"
	keystorepkcs11 "github.com/pkid/pkid/plugins/keystore-pkcs11"
	scanchecks "github.com/pkid/pkid/plugins/scan-checks"
	storecfssl "github.com/pkid/pkid/plugins/store-cfssl"
	storepostgres "github.com/pkid/pkid/plugins/store-postgres"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
	trustfiles "github.com/pkid/pkid/plugins/trust-files"
	"github.com/pkid/pkid/sdk"
)

// builtins is every plugin compiled into the pkid binary, by kind and type.
var builtins = map[string]map[string]func() sdk.Plugin{
	sdk.KindKeyStore:  {"file": keystorefile.New, "pkcs11": keystorepkcs11.New, "split": newSplit},
	sdk.KindCertStore: {"sqlite": storesqlite.New, "postgres": storepostgres.New, "cfssl": storecfssl.New},
	sdk.KindScanCheck: {"tls": scanchecks.New},
	sdk.KindTrust:     {"files": trustfiles.New},
}

// Kinds that configuration blocks can instantiate.
var Kinds = []string{sdk.KindKeyStore, sdk.KindCertStore, sdk.KindTrust, sdk.KindScanCheck}

// Builtin is one builtin plugin.
type Builtin struct {
	Kind, Type string
	New        func() sdk.Plugin
}

// Builtins lists the builtin plugins sorted by kind and type.
func Builtins() []Builtin {
	var out []Builtin
	for kind, types := range builtins {
		for typ, f := range types {
			out = append(out, Builtin{Kind: kind, Type: typ, New: f})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// LookupBuiltin returns the constructor of a builtin plugin.
func LookupBuiltin(kind, typ string) (func() sdk.Plugin, bool) {
	f, ok := builtins[kind][typ]
	return f, ok
}

// Catalog is the set of plugins a configuration can use.
type Catalog struct {
	externals map[string]*config.ExternalPlugin
}

// New builds the catalog for cfg. A plugin block whose type names a builtin
// is an error: a binary never silently replaces a builtin.
func New(cfg *config.Config) (*Catalog, hcl.Diagnostics) {
	c := &Catalog{externals: map[string]*config.ExternalPlugin{}}
	var diags hcl.Diagnostics
	for _, p := range cfg.Plugins {
		shadow := false
		for _, kind := range Kinds {
			if _, ok := builtins[kind][p.Type]; ok {
				shadow = true
			}
		}
		if shadow {
			rng := p.DefRange
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Plugin type shadows a builtin",
				Detail:   fmt.Sprintf("%q is the name of a builtin plugin; an external plugin cannot replace it. Give the external plugin another type name.", p.Type),
				Subject:  &rng,
			})
			continue
		}
		c.externals[p.Type] = p
	}
	return c, diags
}

// Known maps each kind to the plugin types available for it. External
// plugins count for every kind until started (their kinds come from GetInfo).
func (c *Catalog) Known() map[string][]string {
	out := map[string][]string{}
	for _, kind := range Kinds {
		for typ := range builtins[kind] {
			out[kind] = append(out[kind], typ)
		}
		for typ := range c.externals {
			out[kind] = append(out[kind], typ)
		}
		sort.Strings(out[kind])
	}
	return out
}

// Spec returns how to run the plugin kind/typ.
func (c *Catalog) Spec(kind, typ string) (pluginhost.Spec, bool) {
	if f, ok := builtins[kind][typ]; ok {
		return pluginhost.Spec{Kind: kind, Type: typ, New: f}, true
	}
	if p, ok := c.externals[typ]; ok {
		return ExternalSpec(kind, p), true
	}
	return pluginhost.Spec{}, false
}

// ExternalSpec is the pluginhost spec of an external plugin block.
func ExternalSpec(kind string, p *config.ExternalPlugin) pluginhost.Spec {
	return pluginhost.Spec{Kind: kind, Type: p.Type, Path: p.Path, SHA256: p.SHA256, Env: p.Env, Args: p.Args}
}

// Externals lists the configured external plugins sorted by type.
func (c *Catalog) Externals() []*config.ExternalPlugin {
	var out []*config.ExternalPlugin
	for _, p := range c.externals {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}
