package lint

import (
	"errors"
	"strings"

	zl "github.com/zmap/zlint/v3/lint"
)

// ErrLintRefused is wrapped by every refusal error (see RefusalError).
var ErrLintRefused = errors.New("lint refused issuance")

// Finding is one lint result of status info or above.
type Finding struct {
	Name    string // zlint name, e.g. "e_sub_cert_key_usage_cert_sign_bit_set"
	Source  string // zlint source, e.g. "RFC5280", "CABF_BR"
	Status  string // "info", "warn", "error" or "fatal"
	Details string // the lint's explanation; often empty
}

// String renders the finding as `name (status: details)`.
func (f Finding) String() string {
	if f.Details == "" {
		return f.Name + " (" + f.Status + ")"
	}
	return f.Name + " (" + f.Status + ": " + f.Details + ")"
}

// Report is the result of linting one certificate.
type Report struct {
	// Findings are sorted by lint name.
	Findings []Finding
	// Level is the linter's refusal level ("info", "warn", "error", "fatal").
	Level string
}

// RefusalError lists the findings that refused issuance. It wraps
// ErrLintRefused.
type RefusalError struct {
	Findings []Finding
}

// Error names every offending lint with its status and details, e.g.
// `lint refused issuance: e_ecdsa_allowed_ku (error: ...), w_x (warn)`.
func (e *RefusalError) Error() string {
	parts := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		parts[i] = f.String()
	}
	return ErrLintRefused.Error() + ": " + strings.Join(parts, ", ")
}

// Unwrap returns ErrLintRefused.
func (e *RefusalError) Unwrap() error { return ErrLintRefused }

// Err is Refusal at the report's own level.
func (r *Report) Err() error { return r.Refusal(r.Level) }

// Refusal returns nil when no finding reaches level, else a *RefusalError
// (wrapping ErrLintRefused) naming the findings that do. An empty level
// means "error"; an unknown level is returned as an error so callers fail
// closed.
func (r *Report) Refusal(level string) error {
	lv, err := parseLevel(level)
	if err != nil {
		return err
	}
	var bad []Finding
	for _, f := range r.Findings {
		if statusOf(f.Status) >= lv {
			bad = append(bad, f)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &RefusalError{Findings: bad}
}

// Warnings returns the findings of status warn or above that stay below
// the report's level (those the CA prints but does not refuse on).
func (r *Report) Warnings() []Finding {
	lv, err := parseLevel(r.Level)
	if err != nil {
		lv = zl.Error
	}
	var out []Finding
	for _, f := range r.Findings {
		if s := statusOf(f.Status); s >= zl.Warn && s < lv {
			out = append(out, f)
		}
	}
	return out
}

// statusOf maps a Finding.Status back to a zlint status.
func statusOf(s string) zl.LintStatus {
	return zl.StatusLabelToLintStatus[s]
}
