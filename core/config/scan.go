package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/egress"
)

// ScanSettings is the pkid block's scan block: it turns on the scan and
// scaninfo endpoints (off without it) for the networks it allows
// (docs/scanner-runner.md).
type ScanSettings struct {
	// Allow lists the targets the daemon may scan: networks, addresses,
	// names, *.suffix (egress.New's syntax). At least one entry.
	Allow []string
	// MaxConcurrent bounds the scans running at once (default 4).
	MaxConcurrent int
	// MaxTimeout bounds a request's timeout (default and at most 5m).
	MaxTimeout time.Duration
	// Isolation runs the builtin checks in a plugin process
	// (IsolationProcess, the default: they parse what scanned servers
	// send) or in the daemon (IsolationInProcess).
	Isolation string
	DefRange  hcl.Range
}

// Scan block bounds.
const (
	DefaultScanConcurrent = 4
	maxScanConcurrent     = 256
	DefaultScanTimeout    = 5 * time.Minute
)

var scanSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "allow", Required: true}, {Name: "max_concurrent"}, {Name: "max_timeout"}, {Name: "isolation"}},
}

func (c *Config) decodeScan(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	if c.Pkid.Scan != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Duplicate scan block",
			Detail: fmt.Sprintf("Only one scan block is allowed; another was declared at %s.", c.Pkid.Scan.DefRange), Subject: b.DefRange.Ptr()}}
	}
	content, diags := b.Body.Content(scanSchema)
	s := &ScanSettings{MaxConcurrent: DefaultScanConcurrent, MaxTimeout: DefaultScanTimeout, DefRange: b.DefRange}
	c.Pkid.Scan = s
	if a := content.Attributes["allow"]; a != nil {
		ds := decodeAttr(a, ctx, &s.Allow)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			if len(s.Allow) == 0 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty scan allowlist",
					Detail: "allow must name at least one network, address or name the daemon may scan; remove the scan block to keep scanning off.", Subject: a.Expr.Range().Ptr()})
			} else if _, err := egress.New(s.Allow); err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid scan allowlist", Detail: err.Error() + ".", Subject: a.Expr.Range().Ptr()})
			}
		}
	}
	if a := content.Attributes["max_concurrent"]; a != nil {
		ds := decodeAttr(a, ctx, &s.MaxConcurrent)
		diags = append(diags, ds...)
		if !ds.HasErrors() && (s.MaxConcurrent < 1 || s.MaxConcurrent > maxScanConcurrent) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Limit out of range",
				Detail: fmt.Sprintf("max_concurrent must be between 1 and %d, not %d.", maxScanConcurrent, s.MaxConcurrent), Subject: a.Expr.Range().Ptr()})
		}
	}
	if a := content.Attributes["max_timeout"]; a != nil {
		ds := decodeDuration(a, ctx, &s.MaxTimeout, false)
		diags = append(diags, ds...)
		if !ds.HasErrors() && (s.MaxTimeout < time.Second || s.MaxTimeout > DefaultScanTimeout) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Limit out of range",
				Detail: fmt.Sprintf("max_timeout must be between 1s and %v, not %v.", DefaultScanTimeout, s.MaxTimeout), Subject: a.Expr.Range().Ptr()})
		}
	}
	if a := content.Attributes["isolation"]; a != nil {
		ds := decodeAttr(a, ctx, &s.Isolation)
		diags = append(diags, ds...)
		if !ds.HasErrors() && s.Isolation != IsolationProcess && s.Isolation != IsolationInProcess {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid isolation",
				Detail: fmt.Sprintf("isolation must be %q or %q, not %q.", IsolationProcess, IsolationInProcess, s.Isolation), Subject: a.Expr.Range().Ptr()})
		}
	}
	return diags
}
