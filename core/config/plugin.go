package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/pkid/pkid/core/duration"
	"github.com/pkid/pkid/sdk"
)

// DecodePluginBody decodes a plugin instance's body against the plugin's
// schema and returns the value as the JSON object the plugin receives.
// Absent optional attributes are null; absent list or map blocks are empty.
//
// Problems in the operator's block (a missing required argument or block,
// a value of the wrong type, an argument or block the schema does not know,
// a failing function call) are error diagnostics with source ranges, and the
// JSON is nil. A schema that cannot be turned into a decoder (an invalid
// attribute type, a name used twice) is reported at the block as an
// "Invalid plugin schema" error, since the fault is the plugin's.
func DecodePluginBody(b *PluginBlock, s *sdk.Schema) (json.RawMessage, hcl.Diagnostics) {
	spec, err := specFromSchema(s)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid plugin schema",
			Detail:   fmt.Sprintf("The %s plugin %q declares an unusable configuration schema: %s. This is a bug in the plugin.", b.Kind, b.Type, err),
			Subject:  b.DefRange.Ptr(),
		}}
	}
	val, diags := hcldec.Decode(b.Body, spec, b.EvalContext)
	if diags.HasErrors() {
		return nil, diags
	}
	if !val.IsWhollyKnown() {
		// Cannot happen without variables; guard the marshaller anyway.
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown value in plugin configuration",
			Detail:   fmt.Sprintf("The configuration of %s could not be fully evaluated.", blockName(b)),
			Subject:  b.DefRange.Ptr(),
		})
	}
	diags = append(diags, secretFileDiags(b, s, val)...)
	if diags.HasErrors() {
		return nil, diags
	}
	out, err := ctyjson.Marshal(val, val.Type())
	if err != nil {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot encode plugin configuration",
			Detail:   fmt.Sprintf("The configuration of %s could not be encoded as JSON: %s.", blockName(b), err),
			Subject:  b.DefRange.Ptr(),
		})
	}
	return out, diags
}

// LiteralSecrets names the sensitive attributes of b (by the plugin's
// schema s) written as literal values: only the core sees the expression,
// so it tells the plugin (sdk.Config.LiteralSecrets), which may refuse
// them. An expression that calls a function (env, file, ...) or references
// anything is not literal. Bodies in HCL's JSON syntax are not inspected.
func LiteralSecrets(b *PluginBlock, s *sdk.Schema) []string {
	var out []string
	for _, a := range sensitiveExprs(b, s) {
		name, expr := a.name, a.expr
		literal := true
		hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
			switch n.(type) {
			case *hclsyntax.FunctionCallExpr, *hclsyntax.ScopeTraversalExpr, *hclsyntax.RelativeTraversalExpr:
				literal = false
			}
			return nil
		})
		if literal {
			out = append(out, name)
		}
	}
	return out
}

// sensitiveExpr is a sensitive attribute written in HCL's native syntax.
type sensitiveExpr struct {
	name string
	expr hclsyntax.Expression
}

// sensitiveExprs returns the block's sensitive attributes (by the plugin's
// schema) written in native syntax; JSON-syntax bodies give none.
func sensitiveExprs(b *PluginBlock, s *sdk.Schema) []sensitiveExpr {
	if s == nil {
		return nil
	}
	var schema hcl.BodySchema
	for _, a := range s.Attributes {
		if a.Sensitive {
			schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: a.Name})
		}
	}
	if len(schema.Attributes) == 0 {
		return nil
	}
	content, _, _ := b.Body.PartialContent(&schema)
	var out []sensitiveExpr
	for _, a := range schema.Attributes {
		attr, ok := content.Attributes[a.Name]
		if !ok {
			continue
		}
		if expr, ok := attr.Expr.(hclsyntax.Expression); ok {
			out = append(out, sensitiveExpr{a.Name, expr})
		}
	}
	return out
}

// secretFileDiags checks the files that sensitive attributes read with
// file(): one that group or others can access is an error at the call
// naming the file, its mode and the chmod that fixes it, or a warning when
// the block sets insecure_permissions = true (pkid serve -dev). Modes are
// read, not access tried, so the check also holds for root. Only the
// core sees these expressions: the plugin gets the file's content.
func secretFileDiags(b *PluginBlock, s *sdk.Schema, val cty.Value) hcl.Diagnostics {
	if s == nil {
		return nil
	}
	severity := hcl.DiagError
	if ty := val.Type(); ty.IsObjectType() && ty.HasAttribute("insecure_permissions") {
		if v := val.GetAttr("insecure_permissions"); v.Type() == cty.Bool && v.IsKnown() && !v.IsNull() && v.True() {
			severity = hcl.DiagWarning
		}
	}
	var diags hcl.Diagnostics
	for _, a := range sensitiveExprs(b, s) {
		hclsyntax.VisitAll(a.expr, func(n hclsyntax.Node) hcl.Diagnostics {
			call, ok := n.(*hclsyntax.FunctionCallExpr)
			if !ok || call.Name != "file" || len(call.Args) != 1 {
				return nil
			}
			arg, ds := call.Args[0].Value(b.EvalContext)
			if ds.HasErrors() || arg.Type() != cty.String || !arg.IsKnown() || arg.IsNull() {
				return nil
			}
			path := arg.AsString()
			if !filepath.IsAbs(path) {
				path = filepath.Join(filepath.Dir(call.Range().Filename), path)
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm()&0o077 == 0 {
				return nil
			}
			rng := call.Range()
			diags = append(diags, &hcl.Diagnostic{
				Severity: severity,
				Summary:  "Secret file accessible to others",
				Detail: fmt.Sprintf("%s of %s reads %s, which is mode %04o, accessible to group or others: chmod 600 %s",
					a.name, blockName(b), path, fi.Mode().Perm(), path),
				Subject: &rng,
			})
			return nil
		})
	}
	return diags
}

// durationSpec decodes an sdk.TypeDuration attribute: a string parsed as
// core blocks parse durations (days allowed), errors at the expression,
// handed to the plugin as a Go duration string (time.ParseDuration).
func durationSpec(a sdk.Attribute) hcldec.Spec {
	return &hcldec.TransformFuncSpec{
		Wrapped: &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: a.Name, Type: cty.String, Required: a.Required},
			Func: func(v cty.Value) hcl.Diagnostics {
				if v.IsNull() || !v.IsKnown() {
					return nil
				}
				if _, err := duration.Parse(v.AsString()); err != nil {
					return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid duration", Detail: err.Error() + "."}}
				}
				return nil
			},
		},
		Func: goDuration,
	}
}

// goDuration turns a valid pkid duration into Go's form ("1d" -> "24h0m0s").
var goDuration = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "d", Type: cty.String, AllowNull: true, AllowUnknown: true}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		if v.IsNull() || !v.IsKnown() {
			return v, nil
		}
		d, err := duration.Parse(v.AsString())
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(d.String()), nil
	},
})

// specFromSchema builds the hcldec spec for a plugin schema.
func specFromSchema(s *sdk.Schema) (hcldec.ObjectSpec, error) {
	spec := hcldec.ObjectSpec{}
	if s == nil {
		return spec, nil
	}
	for _, a := range s.Attributes {
		if _, dup := spec[a.Name]; dup || a.Name == "" {
			return nil, fmt.Errorf("attribute name %q is empty or used twice", a.Name)
		}
		if a.Type == sdk.TypeDuration {
			spec[a.Name] = durationSpec(a)
			continue
		}
		ty, err := ctyjson.UnmarshalType([]byte(a.Type))
		if err != nil {
			return nil, fmt.Errorf("attribute %q has invalid type %s: %v", a.Name, a.Type, err)
		}
		spec[a.Name] = &hcldec.AttrSpec{Name: a.Name, Type: ty, Required: a.Required}
	}
	for _, b := range s.Blocks {
		if _, dup := spec[b.TypeName]; dup || b.TypeName == "" {
			return nil, fmt.Errorf("block type %q is empty or its name is used twice", b.TypeName)
		}
		nested, err := specFromSchema(b.Body)
		if err != nil {
			return nil, fmt.Errorf("block %q: %w", b.TypeName, err)
		}
		switch b.Nesting {
		case sdk.NestingSingle:
			spec[b.TypeName] = &hcldec.BlockSpec{TypeName: b.TypeName, Nested: nested, Required: b.Required}
		case sdk.NestingList:
			min := 0
			if b.Required {
				min = 1
			}
			spec[b.TypeName] = &hcldec.BlockListSpec{TypeName: b.TypeName, Nested: nested, MinItems: min}
		case sdk.NestingMap:
			// hcldec has no minimum for maps; a required map block is left
			// to the plugin's own validation.
			spec[b.TypeName] = &hcldec.BlockMapSpec{TypeName: b.TypeName, LabelNames: []string{"name"}, Nested: nested}
		default:
			return nil, fmt.Errorf("block %q has unknown nesting %d", b.TypeName, b.Nesting)
		}
	}
	return spec, nil
}

// PluginDiagnostics converts a plugin's findings about b into HCL
// diagnostics. A finding whose Path names an attribute (or a nested block,
// then an attribute in it) points at that expression; otherwise, or when the
// path cannot be found, it points at the block header. The detail names the
// block, since plugin messages are written without knowing the instance.
func PluginDiagnostics(b *PluginBlock, ds sdk.Diagnostics) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, d := range ds {
		sev := hcl.DiagError
		if d.Severity == sdk.SeverityWarning {
			sev = hcl.DiagWarning
		}
		detail := "In " + blockName(b) + "."
		if d.Detail != "" {
			detail = d.Detail + " (in " + blockName(b) + ")"
		}
		rng := pathRange(b.Body, d.Path)
		if rng == nil {
			rng = b.DefRange.Ptr()
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: sev,
			Summary:  d.Summary,
			Detail:   detail,
			Subject:  rng,
		})
	}
	return diags
}

// blockName renders a block header the way it is written: keystore "file" "dev".
func blockName(b *PluginBlock) string {
	return fmt.Sprintf("%s %q %q", b.Kind, b.Type, b.Name)
}

// pathRange finds the source range of path within body, or nil.
func pathRange(body hcl.Body, path []string) *hcl.Range {
	if len(path) == 0 || body == nil {
		return nil
	}
	if sb, ok := body.(*hclsyntax.Body); ok {
		return syntaxPathRange(sb, path)
	}
	// Other syntaxes (JSON): only top-level attributes can be located
	// without a schema. JustAttributes on the remain body honours the
	// hidden meta-attributes; its errors are irrelevant here.
	attrs, _ := body.JustAttributes()
	if a := attrs[path[0]]; a != nil {
		return a.Expr.Range().Ptr()
	}
	return nil
}

// syntaxPathRange walks a native-syntax body: an attribute ends the walk, a
// block type continues in the block chosen by the next element (a label or
// a list index) or in the only block of that type.
func syntaxPathRange(body *hclsyntax.Body, path []string) *hcl.Range {
	if a := body.Attributes[path[0]]; a != nil {
		return a.Expr.Range().Ptr()
	}
	var blocks []*hclsyntax.Block
	for _, blk := range body.Blocks {
		if blk.Type == path[0] {
			blocks = append(blocks, blk)
		}
	}
	if len(blocks) == 0 {
		return nil
	}
	rest := path[1:]
	chosen := blocks[0]
	if len(rest) > 0 {
		if blk := pickBlock(blocks, rest[0]); blk != nil {
			chosen, rest = blk, rest[1:]
		} else if len(blocks) > 1 {
			r := blocks[0].DefRange()
			return &r
		}
	}
	if len(rest) > 0 {
		if r := syntaxPathRange(chosen.Body, rest); r != nil {
			return r
		}
	}
	r := chosen.DefRange()
	return &r
}

// pickBlock selects a block by its first label or by a decimal index.
func pickBlock(blocks []*hclsyntax.Block, key string) *hclsyntax.Block {
	for _, blk := range blocks {
		if len(blk.Labels) > 0 && blk.Labels[0] == key {
			return blk
		}
	}
	var i int
	if _, err := fmt.Sscanf(key, "%d", &i); err == nil && i >= 0 && i < len(blocks) && fmt.Sprint(i) == key {
		return blocks[i]
	}
	return nil
}
