package keystoresplit

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/pkid/pkid/sdk"
)

const (
	defaultPoll          = time.Second
	defaultMaxDelegation = 24 * time.Hour
)

type rawConfig struct {
	StateDir      *string           `json:"state_dir"`
	Threshold     *float64          `json:"threshold"`
	Custodians    map[string]string `json:"custodians"`
	PollInterval  *string           `json:"poll_interval"`
	MaxDelegation *string           `json:"max_delegation"`
	AuditFile     *string           `json:"audit_file"`
}

type config struct {
	StateDir      string
	Threshold     int
	Custodians    []custodianSpec // age or token recipients; for GenerateKey and ImportKey
	Poll          time.Duration
	MaxDelegation time.Duration
	AuditFile     string
}

func schema() *sdk.Schema {
	return sdk.NewSchema().
		String("state_dir", sdk.Required, "directory holding the split keys, the inbox of delegations and the published ephemeral key; created 0700").
		Number("threshold", sdk.Optional, "M: how many custodians must delegate before a key made by `pkid keystore NAME generate` or `import` signs").
		StringMap("custodians", sdk.Optional, "custodian name = age recipient (age1...) or token recipient (pkcs11-token:..., from `pkid keystore split token-recipient`), the N holders of shares of keys made by generate or import; ceremonies name their own").
		Duration("poll_interval", sdk.Optional, "how often the inbox is read and expiries enforced besides on every signature").Default(`"1s"`).
		Duration("max_delegation", sdk.Optional, "the longest a delegation may last").Default(`"24h"`).
		String("audit_file", sdk.Optional, "JSON-lines audit log of delegations and signatures; default state_dir/audit.jsonl")
}

func decodeConfig(cfg sdk.Config) (*config, sdk.Diagnostics) {
	var raw rawConfig
	if err := cfg.Decode(&raw); err != nil {
		return nil, sdk.Errorf(nil, "invalid keystore configuration", err.Error())
	}
	var diags sdk.Diagnostics
	c := &config{Poll: defaultPoll, MaxDelegation: defaultMaxDelegation}
	if raw.StateDir == nil || *raw.StateDir == "" {
		diags = append(diags, sdk.Errorf([]string{"state_dir"}, "missing state directory", `"state_dir" must name the keystore's directory`)...)
	} else {
		c.StateDir = *raw.StateDir
		c.AuditFile = filepath.Join(c.StateDir, auditFile)
	}
	if raw.AuditFile != nil && *raw.AuditFile != "" {
		c.AuditFile = *raw.AuditFile
	}
	dur := func(p *string, name string, dst *time.Duration) {
		if p == nil {
			return
		}
		d, err := time.ParseDuration(*p)
		if err != nil || d <= 0 {
			diags = append(diags, sdk.Errorf([]string{name}, "invalid duration", fmt.Sprintf("%s must be a positive duration, not %q", name, *p))...)
			return
		}
		*dst = d
	}
	dur(raw.PollInterval, "poll_interval", &c.Poll)
	dur(raw.MaxDelegation, "max_delegation", &c.MaxDelegation)

	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range raw.Custodians {
			if !yield(n) {
				return
			}
		}
	}) {
		spec, err := newCustodianSpec(name, raw.Custodians[name])
		if err == nil && spec.Kind == kindPassphrase {
			err = fmt.Errorf("custodian %q: keys made by generate or import need age or token recipients; a passphrase custodian joins through `pkid keystore split ceremony`", name)
		}
		if err != nil {
			diags = append(diags, sdk.Errorf([]string{"custodians"}, "invalid custodian", err.Error())...)
			continue
		}
		c.Custodians = append(c.Custodians, spec)
	}
	if t := raw.Threshold; t != nil {
		if *t != math.Trunc(*t) || *t < 2 || *t > maxShares {
			diags = append(diags, sdk.Errorf([]string{"threshold"}, "invalid threshold", fmt.Sprintf("threshold must be an integer from 2 to %d, not %v", maxShares, *t))...)
		} else {
			c.Threshold = int(*t)
		}
	}
	switch {
	case c.Threshold != 0 && len(raw.Custodians) == 0:
		diags = append(diags, sdk.Errorf([]string{"custodians"}, "threshold without custodians", "set custodians with threshold, or neither (keys then come from `pkid keystore split ceremony`)")...)
	case c.Threshold == 0 && len(raw.Custodians) > 0:
		diags = append(diags, sdk.Errorf([]string{"threshold"}, "custodians without threshold", "set threshold (M) with custodians")...)
	case c.Threshold > len(raw.Custodians) && len(raw.Custodians) > 0:
		diags = append(diags, sdk.Errorf([]string{"threshold"}, "threshold above the number of custodians", fmt.Sprintf("threshold %d, but %d custodians", c.Threshold, len(raw.Custodians)))...)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return c, diags
}
