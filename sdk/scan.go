package sdk

import (
	"context"
	"encoding/json"
)

// Grade is a check's verdict on a target.
type Grade string

// Grades. Every grade but GradeGood comes with a reason.
const (
	GradeGood    Grade = "good"
	GradeWarning Grade = "warning"
	GradeBad     Grade = "bad"
	GradeSkipped Grade = "skipped" // the check could not apply (e.g. no IPv6 address)
)

// ScanFamily is a group of related checks (e.g. "connectivity", "pki").
type ScanFamily struct {
	Name        string
	Description string
	Checks      []ScanCheckInfo
}

// ScanCheckInfo describes one check of a family.
type ScanCheckInfo struct {
	Name        string
	Description string
}

// ScanRequest runs one check against one target. The deadline of the
// call's context is the per-host timeout.
type ScanRequest struct {
	Family, Check string
	// Host is host[:port] (port 443 when absent); the name checked
	// against certificates and sent as SNI.
	Host string
	// IP, when set, is the address to dial instead of resolving Host.
	IP string
}

// Finding is one result of a check.
type Finding struct {
	Family, Check string
	Grade         Grade
	Reason        string // why the grade; required unless GradeGood
	// Output is the check's data in CFSSL's scan JSON shape, if any.
	Output json.RawMessage
}

// ScanCheck runs TLS scanner checks (kind KindScanCheck). Errors:
// ErrNotFound (unknown family or check), ErrInvalidArgument (a Host or IP
// that cannot be a target). A target that cannot be reached is not an
// error: it is a finding graded GradeBad (or GradeSkipped) with the reason.
type ScanCheck interface {
	Instance
	// Families describes every family and its checks.
	Families(ctx context.Context) ([]ScanFamily, error)
	// Run runs the check and calls fn for each finding as it is made. An
	// error from fn stops the check and is returned.
	Run(ctx context.Context, req ScanRequest, fn func(*Finding) error) error
}
