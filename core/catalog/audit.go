package catalog

import (
	"context"

	"github.com/pkid/pkid/core/audit"
	keystoresplit "github.com/pkid/pkid/plugins/keystore-split"
	"github.com/pkid/pkid/sdk"
)

// newSplit is the builtin split keystore with its audit_file written as a
// chained audit log (core/audit): pointed at the daemon's audit_log, its
// key operations join the daemon's chain and checkpoints; left at its
// default, it is a chain of its own that `pkid audit verify -log` checks.
func newSplit() sdk.Plugin { return keystoresplit.NewWithAudit(openChainedAudit) }

func openChainedAudit(path string) (keystoresplit.Auditor, error) {
	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		return nil, err
	}
	return chainedAuditor{l}, nil
}

// chainedAuditor appends each keystore event as a "key" record.
type chainedAuditor struct{ l *audit.Log }

func (a chainedAuditor) Record(ev keystoresplit.AuditEvent) error {
	return a.l.Append(context.Background(), audit.KindKey, ev)
}

func (a chainedAuditor) Close() error { return a.l.Close() }
