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
	// AuditCertStore names a declared certstore that keeps the audit chain
	// (shared by several nodes) instead of a file; it needs
	// AuditCheckpointKey. Exclusive with AuditLog.
	AuditCertStore      string
	AuditCertStoreRange hcl.Range
	// AuditCheckpointKey is the Ed25519 key (PEM PKCS#8) that signs
	// checkpoints, created on first use; empty: AuditLog + ".key". With
	// AuditCertStore every node needs the same key file.
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
	if a := content.Attributes["audit_certstore"]; a != nil {
		o.AuditCertStoreRange = a.Expr.Range()
		diags = append(diags, decodeAttr(a, ctx, &o.AuditCertStore)...)
		switch {
		case o.AuditLog != "":
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Two audit sinks",
				Detail: "audit_log and audit_certstore are exclusive: one chain is kept either in a file or in the certstore.", Subject: a.Expr.Range().Ptr()})
		case o.AuditCertStore != "" && o.AuditCheckpointKey == "":
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No checkpoint key",
				Detail: "audit_certstore needs audit_checkpoint_key: the same Ed25519 key file on every node that writes the chain (created on first start when missing).", Subject: a.Expr.Range().Ptr()})
		}
	}
	diags = append(diags, decodeDuration(content.Attributes["audit_checkpoint_interval"], ctx, &o.AuditCheckpointInterval, false)...)
	if a := content.Attributes["audit_checkpoint_interval"]; a != nil && o.AuditCheckpointInterval > 0 && o.AuditCheckpointInterval < time.Second {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Checkpoint interval too short",
			Detail: "audit_checkpoint_interval must be at least 1s.", Subject: a.Expr.Range().Ptr()})
	}
	return diags
}
