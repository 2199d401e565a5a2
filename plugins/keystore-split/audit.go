package keystoresplit

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Audit event names.
const (
	EventDelegationAccepted = "delegation.accepted"
	EventDelegationRefused  = "delegation.refused"
	EventDelegationEnded    = "delegation.ended" // expired, used up or revoked
	EventKeyUnlocked        = "key.unlocked"
	EventKeyLocked          = "key.locked"
	EventSign               = "sign"
	EventRotate             = "key.rotated"
	EventCeremony           = "key.ceremony"
)

// AuditEvent is one audit record. It never carries a share or a key.
type AuditEvent struct {
	Time       time.Time `json:"time"`
	Event      string    `json:"event"`
	Keystore   string    `json:"keystore,omitempty"`
	Key        string    `json:"key,omitempty"`
	Custodians []string  `json:"custodians,omitempty"`
	Purpose    string    `json:"purpose,omitempty"`
	Delegation string    `json:"delegation,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// Auditor receives the keystore's audit events: every delegation
// (accepted, refused, ended), every signature and every key state change.
// The keystore fails closed: a Sign whose record cannot be written returns
// the error instead of the signature. Record is called with the keystore's
// lock held, so it must not call back into the keystore. Errors: any
// failure to record the event durably.
type Auditor interface {
	Record(ev AuditEvent) error
	Close() error
}

// jsonLines is the default Auditor: one JSON object per line appended to a
// file (0600). A later change chains and ships these records; it replaces
// the Auditor, not the keystore.
type jsonLines struct {
	mu sync.Mutex
	f  *os.File
}

func openJSONLines(path string) (*jsonLines, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the audit log: %w", err)
	}
	return &jsonLines{f: f}, nil
}

// Record appends ev as one line in one write, so concurrent writers
// (the daemon and a ceremony) do not interleave within a line.
func (j *jsonLines) Record(ev AuditEvent) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("audit log closed")
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing the audit log: %w", err)
	}
	return nil
}

func (j *jsonLines) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
