package config

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/duration"
	"github.com/pkid/pkid/core/egress"
)

// KindTrust is the block type of a trust source: trust "TYPE" "NAME" { ... }.
// Several trust blocks combine into the bundler's pool.
const KindTrust = "trust"

// BundleBlock is the daemon's bundler settings (the optional top-level
// bundle block). Its zero value dials nothing: a domain bundle and AIA
// chasing are refused until Allow lists where the daemon may connect.
type BundleBlock struct {
	// Allow is the egress allowlist of the bundle endpoint's domain/ip
	// fetches and of AIA chasing: networks, addresses, host names and
	// *.suffix patterns (docs/bundler-operations.md).
	Allow []string
	// AIA turns chasing of missing intermediates on (off by default).
	AIA bool
	// AIATimeout bounds one AIA fetch (0: the fetcher's default).
	AIATimeout time.Duration
	// IntDir stashes fetched intermediates there (CFSSL's -int-dir).
	IntDir string
	// CTLogList is a v3 JSON CT log list (a file, relative to the
	// declaring file, or an http(s) URL) the bundler verifies embedded
	// SCTs against; CTLogListKey, when set, checks its signature
	// (docs/ct.md).
	CTLogList    string
	CTLogListKey []byte
	// DefRange is the block header's range; zero if there is no bundle block.
	DefRange, AllowRange, CTLogListRange hcl.Range
}

var bundleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "allow"}, {Name: "aia"}, {Name: "aia_timeout"}, {Name: "int_dir"},
		{Name: "ct_log_list"}, {Name: "ct_log_list_key"}},
}

func (c *Config) decodeBundle(b *hcl.Block, ctx *hcl.EvalContext, dir string) hcl.Diagnostics {
	if c.Bundle.DefRange != (hcl.Range{}) {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Duplicate bundle block",
			Detail: fmt.Sprintf("Only one bundle block is allowed; another was declared at %s.", c.Bundle.DefRange), Subject: b.DefRange.Ptr()}}
	}
	content, diags := b.Body.Content(bundleSchema)
	bb := &c.Bundle
	bb.DefRange = b.DefRange
	if a := content.Attributes["allow"]; a != nil {
		bb.AllowRange = a.Expr.Range()
		diags = append(diags, decodeAttr(a, ctx, &bb.Allow)...)
	}
	diags = append(diags, decodeAttr(content.Attributes["aia"], ctx, &bb.AIA)...)
	if a := content.Attributes["aia_timeout"]; a != nil {
		var s string
		ds := decodeAttr(a, ctx, &s)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			d, err := duration.Parse(s)
			if err != nil || d <= 0 || d > time.Minute {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid aia_timeout",
					Detail: fmt.Sprintf("aia_timeout must be a duration from 1s to 1m, not %q.", s), Subject: a.Expr.Range().Ptr()})
			}
			bb.AIATimeout = d
		}
	}
	diags = append(diags, decodeAttr(content.Attributes["int_dir"], ctx, &bb.IntDir)...)
	if bb.IntDir != "" && !filepath.IsAbs(bb.IntDir) {
		bb.IntDir = filepath.Join(dir, bb.IntDir)
	}
	if a := content.Attributes["ct_log_list"]; a != nil {
		var src string
		ds := decodeAttr(a, ctx, &src)
		diags = append(diags, ds...)
		bb.CTLogListRange = a.Expr.Range()
		if !ds.HasErrors() {
			resolved, err := logListSource(src, dir)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ct_log_list",
					Detail: "ct_log_list: " + err.Error() + ".", Subject: a.Expr.Range().Ptr()})
			}
			bb.CTLogList = resolved
		}
	}
	if a := content.Attributes["ct_log_list_key"]; a != nil {
		var s string
		ds := decodeAttr(a, ctx, &s)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			der, err := ParseCTKey(s, false)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ct_log_list_key",
					Detail: fmt.Sprintf("ct_log_list_key: %v.", err), Subject: a.Expr.Range().Ptr()})
			}
			bb.CTLogListKey = der
		}
		if content.Attributes["ct_log_list"] == nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "ct_log_list_key without ct_log_list",
				Detail: "ct_log_list_key checks the signature of ct_log_list; set ct_log_list or remove it.", Subject: a.NameRange.Ptr()})
		}
	}
	if a := content.Attributes["allow"]; a != nil && !diags.HasErrors() {
		if _, err := egress.New(bb.Allow); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid allowlist entry",
				Detail: err.Error() + ".", Subject: a.Expr.Range().Ptr()})
		}
	}
	return diags
}
