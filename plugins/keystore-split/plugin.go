package keystoresplit

import (
	"context"
	"path/filepath"
	"sync"

	"github.com/pkid/pkid/sdk"
)

// Version is the plugin's semantic version.
const Version = "0.1.0"

// plugin keeps its configured instances so that its commands (delegate,
// list, ...) can find their state directories.
type plugin struct {
	mu        sync.Mutex
	instances map[string]*store
	// audit, if set, replaces the JSON-lines audit log (tests).
	audit func(name string) Auditor
	// openAudit opens the auditor of an audit_file (NewWithAudit), and
	// auditName is the audit_file's name in state_dir when none is set.
	openAudit OpenAuditor
	auditName string
}

// OpenAuditor opens the Auditor that writes to an instance's audit_file.
type OpenAuditor func(path string) (Auditor, error)

// New returns the "split" keystore plugin. Its instances implement
// sdk.KeyStore and sdk.KeyImporter; the plugin implements sdk.Commander.
func New() sdk.Plugin { return NewWithAudit(nil) }

// NewWithAudit is New with the audit_file written by open instead of as
// plain JSON lines: pkid's builtin chains the events into its
// tamper-evident audit log (docs/operations.md). Its default audit_file is
// state_dir/audit.log, so a JSON-lines audit.jsonl written before stays
// as it was. nil: New.
func NewWithAudit(open OpenAuditor) sdk.Plugin {
	if open == nil {
		return &plugin{instances: map[string]*store{}, auditName: auditFile,
			openAudit: func(path string) (Auditor, error) { return openJSONLines(path) }}
	}
	return &plugin{instances: map[string]*store{}, openAudit: open, auditName: chainedAuditFile}
}

// chainedAuditFile is NewWithAudit's default audit_file in state_dir.
const chainedAuditFile = "audit.log"

func (*plugin) Info() sdk.Info {
	return sdk.Info{
		Name:        "split",
		Version:     Version,
		Kinds:       []string{sdk.KindKeyStore},
		Description: "keys split M-of-N among custodians, who must delegate before the key signs",
	}
}

func (*plugin) Schema(kind string) *sdk.Schema {
	if kind != sdk.KindKeyStore {
		return nil
	}
	return schema()
}

func (*plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	_, diags := decodeConfig(cfg)
	return diags
}

// Configure opens the state directory. Errors: *sdk.DiagnosticsError for a
// bad configuration; others for an unreadable directory or a key file that
// fails its signature check.
func (p *plugin) Configure(ctx context.Context, cfg sdk.Config) (sdk.Instance, error) {
	c, diags := decodeConfig(cfg)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	if c.AuditFile == filepath.Join(c.StateDir, auditFile) && p.auditName != "" {
		c.AuditFile = filepath.Join(c.StateDir, p.auditName) // audit_file unset
	}
	var a Auditor
	if p.audit != nil {
		a = p.audit(cfg.Instance)
	}
	s, err := open(ctx, cfg.Instance, c, a, p.openAudit)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.instances[cfg.Instance] = s
	p.mu.Unlock()
	return &instance{store: s, p: p}, nil
}

// instance unregisters itself from the plugin on Close.
type instance struct {
	*store
	p *plugin
}

func (i *instance) Close() error {
	i.p.mu.Lock()
	if i.p.instances[i.name] == i.store {
		delete(i.p.instances, i.name)
	}
	i.p.mu.Unlock()
	return i.store.Close()
}
