package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/groupcommit"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
)

// Loaded is a configuration with its plugin instances running.
type Loaded struct {
	Config     *config.Config
	Catalog    *Catalog
	KeyStores  map[string]sdk.KeyStore
	CertStores map[string]sdk.CertStore
	Trusts     map[string]sdk.Trust
	ScanChecks map[string]sdk.ScanCheck
}

// LoadRequest says how far to go.
type LoadRequest struct {
	Config *config.Config
	Host   *pluginhost.Host
	// ValidateOnly stops after plugin validation: no instance is created
	// and nothing is written (pkid validate).
	ValidateOnly bool
}

// Load runs the whole load path: resolve plugin types, decode every plugin
// block against its plugin's schema, let the plugin validate it, and (unless
// ValidateOnly) configure the instances. Every problem comes back as an HCL
// diagnostic with a source range.
func Load(ctx context.Context, req LoadRequest) (*Loaded, hcl.Diagnostics) {
	cfg := req.Config
	cat, diags := New(cfg)
	diags = append(diags, cfg.CheckTypes(cat.Known())...)
	if diags.HasErrors() {
		return nil, diags
	}
	out := &Loaded{Config: cfg, Catalog: cat, KeyStores: map[string]sdk.KeyStore{}, CertStores: map[string]sdk.CertStore{}, Trusts: map[string]sdk.Trust{}, ScanChecks: map[string]sdk.ScanCheck{}}
	blocks := slices.Concat(cfg.KeyStores, cfg.CertStores, cfg.Trusts, cfg.ScanChecks)
	for _, b := range blocks {
		inst, ds := loadBlock(ctx, req, cat, b)
		diags = append(diags, ds...)
		if inst == nil {
			continue
		}
		if sc, ok := inst.(sdk.ScanCheck); ok && b.Kind == config.KindScanCheck {
			out.ScanChecks[b.Name] = sc
			continue
		}
		switch v := inst.(type) {
		case sdk.KeyStore:
			out.KeyStores[b.Name] = v
		case sdk.CertStore:
			if b.Isolation == "inprocess" {
				// Out of process, the gRPC stream group-commits; in
				// process, this wrapper does.
				v = groupcommit.Wrap(v)
			}
			out.CertStores[b.Name] = v
		case sdk.Trust:
			out.Trusts[b.Name] = v
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return out, diags
}

func blockDiag(b *config.PluginBlock, summary string, err error) *hcl.Diagnostic {
	rng := b.DefRange
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf("%s %q %q: %v", b.Kind, b.Type, b.Name, err),
		Subject:  &rng,
	}
}

func loadBlock(ctx context.Context, req LoadRequest, cat *Catalog, b *config.PluginBlock) (sdk.Instance, hcl.Diagnostics) {
	spec, _ := cat.Spec(b.Kind, b.Type) // CheckTypes vouched for it
	inprocess := b.Isolation == "inprocess"
	if inprocess && !spec.Builtin() {
		rng := b.DefRange
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "External plugins run out of process",
			Detail: fmt.Sprintf(`isolation = "inprocess" applies to builtin plugins only; %q is external.`, b.Type), Subject: &rng}}
	}

	// Schema and validation of builtins come from the in-process
	// implementation: no process is needed just to read a schema.
	var schema *sdk.Schema
	var validate func(sdk.Config) (sdk.Diagnostics, error)
	if spec.Builtin() {
		p := req.Host.InProcess(spec)
		schema = p.Schema(b.Kind)
		validate = func(c sdk.Config) (sdk.Diagnostics, error) { return p.ValidateConfig(ctx, c), nil }
	} else {
		proc, err := req.Host.Process(ctx, spec)
		if err != nil {
			return nil, hcl.Diagnostics{blockDiag(b, "Cannot start plugin", err)}
		}
		conn, err := proc.Conn(ctx)
		if err == nil {
			var info sdk.Info
			if info, err = conn.Info(ctx); err == nil && !slices.Contains(info.Kinds, b.Kind) {
				rng := b.TypeRange
				return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Plugin does not provide this kind",
					Detail: fmt.Sprintf("Plugin %q provides %v, not %s.", b.Type, info.Kinds, b.Kind), Subject: &rng}}
			}
		}
		if err == nil {
			schema, err = conn.Schema(ctx, b.Kind)
		}
		if err != nil {
			return nil, hcl.Diagnostics{blockDiag(b, "Cannot query plugin", err)}
		}
		validate = func(c sdk.Config) (sdk.Diagnostics, error) { return conn.ValidateConfig(ctx, c) }
	}

	js, diags := config.DecodePluginBody(b, schema)
	if diags.HasErrors() {
		return nil, diags
	}
	cfg := sdk.Config{Kind: b.Kind, Instance: b.Name, JSON: js, LiteralSecrets: config.LiteralSecrets(b, schema)}
	pds, err := validate(cfg)
	if err != nil {
		return nil, append(diags, blockDiag(b, "Cannot validate plugin configuration", err))
	}
	diags = append(diags, config.PluginDiagnostics(b, pds)...)
	if diags.HasErrors() || req.ValidateOnly {
		return nil, diags
	}

	inst, err := req.Host.Open(ctx, pluginhost.OpenRequest{Spec: spec, Name: b.Name, Config: js, LiteralSecrets: cfg.LiteralSecrets, InProcess: inprocess})
	var de *sdk.DiagnosticsError
	switch {
	case errors.As(err, &de):
		return nil, append(diags, config.PluginDiagnostics(b, de.Diagnostics)...)
	case err != nil:
		return nil, append(diags, blockDiag(b, fmt.Sprintf("Cannot start %s %q", b.Kind, b.Name), err))
	}
	return inst, diags
}
