package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Ops are the pkid block's operations settings (docs/operations.md).
type Ops struct {
	// MetricsListen is the Prometheus listener's address (/metrics);
	// empty: no metrics listener.
	MetricsListen string
	// AuditLog is the audit log file; empty: no audit log.
	AuditLog string
	// AuditCheckpointKey is the Ed25519 key (PEM PKCS#8) that signs
	// checkpoints, created on first use; empty: AuditLog + ".key".
	AuditCheckpointKey string
	// AuditCheckpointInterval is how often a checkpoint is signed (zero:
	// DefaultAuditCheckpointInterval).
	AuditCheckpointInterval time.Duration
}

// DefaultAuditCheckpointInterval is the checkpoint period when none is set.
const DefaultAuditCheckpointInterval = 5 * time.Minute

func (c *Config) decodeOps(content *hcl.BodyContent, ctx *hcl.EvalContext) hcl.Diagnostics {
	o := &c.Pkid.Ops
	diags := decodeAttr(content.Attributes["metrics_listen"], ctx, &o.MetricsListen)
	diags = append(diags, decodeAttr(content.Attributes["audit_log"], ctx, &o.AuditLog)...)
	diags = append(diags, decodeAttr(content.Attributes["audit_checkpoint_key"], ctx, &o.AuditCheckpointKey)...)
	diags = append(diags, decodeDuration(content.Attributes["audit_checkpoint_interval"], ctx, &o.AuditCheckpointInterval, false)...)
	if a := content.Attributes["audit_checkpoint_interval"]; a != nil && o.AuditCheckpointInterval > 0 && o.AuditCheckpointInterval < time.Second {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Checkpoint interval too short",
			Detail: "audit_checkpoint_interval must be at least 1s.", Subject: a.Expr.Range().Ptr()})
	}
	return diags
}
