package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// UI is the pkid block's ui block: the read-only web dashboard at /ui/
// (docs/operations.md). Outside -dev it is served only to mTLS clients
// that a "ui" entry of client_cert_policy admits.
type UI struct {
	Enabled bool
	// ExpiringWithin is the horizon of the "expiring soon" page (zero:
	// DefaultUIExpiringWithin).
	ExpiringWithin time.Duration
	DefRange       hcl.Range
}

// DefaultUIExpiringWithin is the dashboard's "expiring soon" horizon.
const DefaultUIExpiringWithin = 30 * 24 * time.Hour

// UIPolicy is the client_cert_policy key naming the clients that may see
// the dashboard.
const UIPolicy = "ui"

var uiSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "enabled"}, {Name: "expiring_within"}},
}

func (c *Config) decodeUI(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	if c.Pkid.UI.DefRange != (hcl.Range{}) {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Duplicate ui block",
			Detail: fmt.Sprintf("Only one ui block is allowed; another was declared at %s.", c.Pkid.UI.DefRange), Subject: b.DefRange.Ptr()}}
	}
	content, diags := b.Body.Content(uiSchema)
	u := &c.Pkid.UI
	u.DefRange = b.DefRange
	diags = append(diags, decodeAttr(content.Attributes["enabled"], ctx, &u.Enabled)...)
	diags = append(diags, decodeDuration(content.Attributes["expiring_within"], ctx, &u.ExpiringWithin, false)...)
	if a := content.Attributes["expiring_within"]; a != nil && u.ExpiringWithin > 3*366*24*time.Hour {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Horizon too long",
			Detail: "expiring_within must be at most 3 years.", Subject: a.Expr.Range().Ptr()})
	}
	return diags
}
