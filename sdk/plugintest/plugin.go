package plugintest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/pkid/pkid/sdk"
)

// PluginConfigs is what the plugin-level kit needs to know about one kind
// of a plugin: a configuration ValidateConfig must accept, and bad ones
// ValidateConfig and Configure must refuse.
type PluginConfigs struct {
	Kind string
	// Valid is a configuration (the block as JSON) ValidateConfig must
	// accept without errors. Nil skips the check. The kit never configures
	// it, so it may name resources that do not exist yet.
	Valid json.RawMessage
	// Invalid are configurations both ValidateConfig and Configure must
	// refuse with an error diagnostic naming the attribute at Path.
	Invalid []InvalidConfig
}

// InvalidConfig is one bad configuration and the attribute it is wrong in.
type InvalidConfig struct {
	Name string
	JSON json.RawMessage
	Path []string
}

// TestPlugin runs the plugin-level kit on p, in process and over gRPC:
// Info names the plugin and lists the kind; the kind's Schema is well
// formed (HCL identifiers, no duplicates, known types, defaults that are
// JSON, nested blocks with a body and a nesting mode); ValidateConfig
// accepts cfg.Valid; and every cfg.Invalid is refused by ValidateConfig
// with an error diagnostic whose Path is the case's, and by Configure with
// an *sdk.DiagnosticsError holding the same diagnostic, so the core can
// point at the attribute's file:line:col.
func TestPlugin(t *testing.T, p sdk.Plugin, cfg PluginConfigs) {
	t.Run("InProcess", func(t *testing.T) {
		pluginKit(t, pluginView{
			info:     func(context.Context) (sdk.Info, error) { return p.Info(), nil },
			schema:   func(_ context.Context, kind string) (*sdk.Schema, error) { return p.Schema(kind), nil },
			validate: func(ctx context.Context, c sdk.Config) (sdk.Diagnostics, error) { return p.ValidateConfig(ctx, c), nil },
			configure: func(ctx context.Context, c sdk.Config) error {
				inst, err := p.Configure(ctx, c)
				if err == nil && inst != nil {
					_ = inst.Close()
				}
				return err
			},
		}, cfg)
	})
	t.Run("GRPC", func(t *testing.T) {
		c := ServeGRPC(t, p)
		pluginKit(t, pluginView{
			info:     c.Info,
			schema:   c.Schema,
			validate: c.ValidateConfig,
			configure: func(ctx context.Context, cf sdk.Config) error {
				err := c.Configure(ctx, cf)
				if err == nil {
					_ = c.CloseInstance(ctx, cf.Kind, cf.Instance)
				}
				return err
			},
		}, cfg)
	})
}

// pluginView is a plugin as the kit calls it, in process or over gRPC.
type pluginView struct {
	info      func(context.Context) (sdk.Info, error)
	schema    func(context.Context, string) (*sdk.Schema, error)
	validate  func(context.Context, sdk.Config) (sdk.Diagnostics, error)
	configure func(context.Context, sdk.Config) error
}

func pluginKit(t *testing.T, p pluginView, cfg PluginConfigs) {
	ctx := t.Context()
	t.Run("Info", func(t *testing.T) {
		info, err := p.info(ctx)
		if err != nil {
			t.Fatalf("Info: %v", err)
		}
		if info.Name == "" || info.Version == "" {
			t.Errorf("Info has name %q, version %q: both are required", info.Name, info.Version)
		}
		if !slices.Contains(info.Kinds, cfg.Kind) {
			t.Errorf("Info.Kinds = %q, want it to list %q", info.Kinds, cfg.Kind)
		}
	})
	t.Run("Schema", func(t *testing.T) {
		s, err := p.schema(ctx, cfg.Kind)
		if err != nil {
			t.Fatalf("Schema(%s): %v", cfg.Kind, err)
		}
		if s == nil {
			t.Fatalf("Schema(%s) is nil", cfg.Kind)
		}
		for _, problem := range schemaCheck(s) {
			t.Error(problem)
		}
	})
	t.Run("ValidateConfig", func(t *testing.T) {
		if cfg.Valid != nil {
			diags, err := p.validate(ctx, sdk.Config{Kind: cfg.Kind, Instance: "kit-valid", JSON: cfg.Valid})
			if err != nil || diags.HasErrors() {
				t.Errorf("ValidateConfig(%s) of the valid configuration: %v, %v", cfg.Valid, diags.Err(), err)
			}
		}
		for _, c := range cfg.Invalid {
			diags, err := p.validate(ctx, sdk.Config{Kind: cfg.Kind, Instance: "kit-invalid", JSON: c.JSON})
			if err != nil {
				t.Errorf("%s: ValidateConfig failed instead of returning diagnostics: %v", c.Name, err)
				continue
			}
			if msg := pluginWantDiag(diags, c.Path); msg != "" {
				t.Errorf("%s: ValidateConfig(%s): %s", c.Name, c.JSON, msg)
			}
		}
	})
	t.Run("ConfigureInvalid", func(t *testing.T) {
		for _, c := range cfg.Invalid {
			err := p.configure(ctx, sdk.Config{Kind: cfg.Kind, Instance: "kit-invalid", JSON: c.JSON})
			var de *sdk.DiagnosticsError
			if !errors.As(err, &de) {
				t.Errorf("%s: Configure(%s) = %v, want a *sdk.DiagnosticsError", c.Name, c.JSON, err)
				continue
			}
			if msg := pluginWantDiag(de.Diagnostics, c.Path); msg != "" {
				t.Errorf("%s: Configure(%s): %s", c.Name, c.JSON, msg)
			}
		}
	})
}

// pluginWantDiag says what is wrong with diags for a configuration that is
// wrong at path ("" if nothing).
func pluginWantDiag(diags sdk.Diagnostics, path []string) string {
	for _, d := range diags {
		if d.Severity != sdk.SeverityWarning && slices.Equal(d.Path, path) {
			if d.Summary == "" {
				return fmt.Sprintf("the error diagnostic at %q has no summary", path)
			}
			return ""
		}
	}
	return fmt.Sprintf("no error diagnostic at attribute path %q (got %+v)", path, diags)
}

var hclIdent = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// schemaCheck lists what is wrong with a schema (nil if nothing):
// attribute and block names that are not lower-case HCL identifiers or are
// used twice at one level, types that are not cty JSON types (or
// sdk.TypeDuration), defaults
// that are not JSON or sit on required attributes, and nested blocks
// without a body or with an unknown nesting mode.
func schemaCheck(s *sdk.Schema) []string {
	var out []string
	schemaProblems(s, "", &out)
	return out
}

func schemaProblems(s *sdk.Schema, prefix string, out *[]string) {
	add := func(format string, args ...any) { *out = append(*out, fmt.Sprintf(format, args...)) }
	seen := map[string]bool{}
	name := func(n string) {
		if !hclIdent.MatchString(n) {
			add("schema: name %q is not a lower-case HCL identifier", prefix+n)
		}
		if seen[n] {
			add("schema: %q is defined twice", prefix+n)
		}
		seen[n] = true
	}
	for _, a := range s.Attributes {
		name(a.Name)
		var typ any
		if a.Type != sdk.TypeDuration && (json.Unmarshal([]byte(a.Type), &typ) != nil || !ctyType(typ)) {
			add("schema: attribute %q has type %s, not a cty JSON type or sdk.TypeDuration", prefix+a.Name, a.Type)
		}
		if a.Default != "" {
			if !json.Valid([]byte(a.Default)) {
				add("schema: attribute %q has default %s, not JSON", prefix+a.Name, a.Default)
			}
			if a.Required {
				add("schema: required attribute %q has a default", prefix+a.Name)
			}
		}
	}
	for _, b := range s.Blocks {
		name(b.TypeName)
		if b.Nesting < sdk.NestingSingle || b.Nesting > sdk.NestingMap {
			add("schema: block %q has nesting %d", prefix+b.TypeName, b.Nesting)
		}
		if b.Body == nil {
			add("schema: block %q has no body", prefix+b.TypeName)
			continue
		}
		schemaProblems(b.Body, prefix+b.TypeName+".", out)
	}
}

// ctyType reports whether t (decoded JSON) is a cty type in its JSON form.
func ctyType(t any) bool {
	switch v := t.(type) {
	case string:
		return v == "string" || v == "number" || v == "bool" || v == "dynamic"
	case []any:
		if len(v) != 2 {
			return false
		}
		switch v[0] {
		case "list", "set", "map":
			return ctyType(v[1])
		case "object":
			m, ok := v[1].(map[string]any)
			if !ok {
				return false
			}
			for _, f := range m {
				if !ctyType(f) {
					return false
				}
			}
			return true
		case "tuple":
			l, ok := v[1].([]any)
			if !ok {
				return false
			}
			for _, e := range l {
				if !ctyType(e) {
					return false
				}
			}
			return true
		}
	}
	return false
}
