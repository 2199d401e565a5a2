package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// CheckTypes checks each keystore and certstore instance against the plugin
// types available for its kind. known maps a kind (KindKeyStore,
// KindCertStore) to its types: the builtins plus the types of the declared
// plugin blocks, as the caller knows them.
//
// It reports, each at the offending label or value: an unknown plugin type
// (suggesting a close match or listing the available types), an instance
// whose name equals a plugin type of its kind (`pkid keystore NAME` looks up
// instance names before types, so the type would become unreachable), and
// an isolation value other than "process" or "inprocess".
func (c *Config) CheckTypes(known map[string][]string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, list := range [][]*PluginBlock{c.KeyStores, c.CertStores, c.Trusts, c.ScanChecks} {
		for _, b := range list {
			diags = append(diags, checkInstance(b, known[b.Kind])...)
		}
	}
	return diags
}

func checkInstance(b *PluginBlock, types []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if !slices.Contains(types, b.Type) {
		var detail string
		switch s := suggest(b.Type, types); {
		case s != "":
			detail = fmt.Sprintf("There is no %s plugin of type %q. Did you mean %q?", b.Kind, b.Type, s)
		case len(types) == 0:
			detail = fmt.Sprintf("There is no %s plugin of type %q, and no %s plugin types are available.", b.Kind, b.Type, b.Kind)
		default:
			sorted := slices.Clone(types)
			sort.Strings(sorted)
			detail = fmt.Sprintf("There is no %s plugin of type %q. The available types are: %s.", b.Kind, b.Type, strings.Join(sorted, ", "))
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Unknown %s plugin type", b.Kind),
			Detail:   detail,
			Subject:  b.TypeRange.Ptr(),
		})
	}
	if slices.Contains(types, b.Name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Instance name collides with plugin type",
			Detail: fmt.Sprintf("The %s instance %q has the name of a %s plugin type. Commands such as `pkid %s %s ...` look up instance names before plugin types, so the type's own commands would be unreachable; choose another name.",
				b.Kind, b.Name, b.Kind, b.Kind, b.Name),
			Subject: b.NameRange.Ptr(),
		})
	}
	switch b.Isolation {
	case "", IsolationProcess, IsolationInProcess:
	default:
		detail := fmt.Sprintf("The isolation argument must be %q (the default: the plugin runs in its own process) or %q (it runs inside pkid), not %q.",
			IsolationProcess, IsolationInProcess, b.Isolation)
		if s := suggest(b.Isolation, []string{IsolationProcess, IsolationInProcess}); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		rng := b.isolationRange
		if rng == (hcl.Range{}) { // block built by hand, not by Load
			rng = b.DefRange
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid isolation",
			Detail:   detail,
			Subject:  rng.Ptr(),
		})
	}
	return diags
}
