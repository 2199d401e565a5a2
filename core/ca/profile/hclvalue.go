package profile

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// hclDecoder decodes profile bodies, collecting every diagnostic so one
// run reports all problems.
type hclDecoder struct {
	ctx   *hcl.EvalContext
	diags hcl.Diagnostics
}

// errorf records an error diagnostic at rng.
func (d *hclDecoder) errorf(rng hcl.Range, summary, format string, a ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, a...),
		Subject:  rng.Ptr(),
	})
}

// warnf records a warning diagnostic at rng.
func (d *hclDecoder) warnf(rng hcl.Range, summary, format string, a ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, a...),
		Subject:  rng.Ptr(),
	})
}

// decode evaluates attribute a and stores it in target (a pointer to a Go
// value gocty understands). It reports whether a was present, non-null and
// of the right type; wrong types are reported at the expression.
func (d *hclDecoder) decode(a *hcl.Attribute, target any) bool {
	if a == nil {
		return false
	}
	val, diags := a.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || val.IsNull() {
		return false
	}
	ty, err := gocty.ImpliedType(target)
	if err != nil {
		panic(fmt.Sprintf("profile: unsupported target %T: %v", target, err)) // programming error
	}
	if !val.IsWhollyKnown() {
		err = fmt.Errorf("value is not known")
	} else if val, err = convert.Convert(val, ty); err == nil {
		err = gocty.FromCtyValue(val, target)
	}
	if err != nil {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Incorrect attribute value type",
			Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s.", a.Name, err),
			Subject:     a.Expr.Range().Ptr(),
			Expression:  a.Expr,
			EvalContext: d.ctx,
		})
		return false
	}
	return true
}

func (d *hclDecoder) str(a *hcl.Attribute) (string, bool) {
	var s string
	ok := d.decode(a, &s)
	return s, ok
}

// strs decodes a list of strings; an explicit [] is a non-nil empty slice.
func (d *hclDecoder) strs(a *hcl.Attribute) ([]string, bool) {
	var s []string
	ok := d.decode(a, &s)
	if ok && s == nil {
		s = []string{}
	}
	return s, ok
}

func (d *hclDecoder) boolean(a *hcl.Attribute) bool {
	var b bool
	d.decode(a, &b)
	return b
}

func (d *hclDecoder) integer(a *hcl.Attribute) (int, bool) {
	var n int
	ok := d.decode(a, &n)
	return n, ok
}

// elemRange is the range of element i of a list attribute when the list
// is written out literally, else the whole expression's range.
func elemRange(a *hcl.Attribute, i int) hcl.Range {
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() || i >= len(exprs) {
		return a.Expr.Range()
	}
	return exprs[i].Range()
}

// eachString decodes a list attribute and calls check for each element;
// a non-nil error is reported at the element as summary. It returns the
// elements that passed.
func (d *hclDecoder) eachString(a *hcl.Attribute, summary string, check func(string) error) []string {
	ss, ok := d.strs(a)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(ss))
	for i, s := range ss {
		if err := check(s); err != nil {
			d.errorf(elemRange(a, i), summary, "%s", detailFor(a.Name, err))
			continue
		}
		out = append(out, s)
	}
	return out
}

// detailFor turns an error about the value of what into a diagnostic
// detail sentence: "must ..." errors get what as their subject.
func detailFor(what string, err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "must ") {
		return "The " + what + " " + msg + "."
	}
	return capitalize(msg) + "."
}

// capitalize upper-cases the first letter of a message, turning a Go
// error into a diagnostic detail sentence.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// singleBlock returns the only block of type typ, reporting any further
// ones as duplicates; nil when there is none.
func (d *hclDecoder) singleBlock(blocks hcl.Blocks, typ string) *hcl.Block {
	var first *hcl.Block
	for _, b := range blocks {
		if b.Type != typ {
			continue
		}
		if first != nil {
			d.errorf(b.DefRange, "Duplicate "+typ+" block", "Only one %s block is allowed per profile; the first is at %s.", typ, first.DefRange)
			continue
		}
		first = b
	}
	return first
}
