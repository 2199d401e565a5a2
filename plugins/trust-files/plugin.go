package trustfiles

import (
	"context"
	"fmt"
	"time"

	"github.com/pkid/pkid/sdk"
)

// Version is the plugin's semantic version.
const Version = "0.1.0"

type plugin struct{}

// New returns the "files" trust plugin. Its instances implement sdk.Trust.
func New() sdk.Plugin { return plugin{} }

// Info describes the plugin build.
func (plugin) Info() sdk.Info {
	return sdk.Info{
		Name:        "files",
		Version:     Version,
		Kinds:       []string{sdk.KindTrust},
		Description: "roots and intermediates from PEM/DER files and directories, CFSSL platform metadata, the OS root store",
	}
}

// Schema returns the trust block's schema, or nil for any other kind.
func (plugin) Schema(kind string) *sdk.Schema {
	if kind != sdk.KindTrust {
		return nil
	}
	return sdk.NewSchema().
		StringList("roots", sdk.Optional, "PEM or DER files and directories of trusted roots (CFSSL's -ca-bundle)").
		StringList("intermediates", sdk.Optional, "PEM or DER files and directories of intermediates offered for path building (CFSSL's -int-bundle)").
		String("metadata", sdk.Optional, "CFSSL platform-metadata JSON (-metadata): name, weight, hash_algo, key_algo, keystore relative to the file").
		Bool("system", sdk.Optional, "also offer the operating system's root store as roots").Default("false").
		Duration("poll_interval", sdk.Optional, `how often to look for changed files ("0s" never looks)`).Default(`"10s"`)
}

// ValidateConfig checks the block without touching the file system.
func (plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	_, diags := decodeConfig(cfg)
	return diags
}

// Configure reads every configured file. Errors: *sdk.DiagnosticsError for
// a bad block, a missing or unreadable path (the OS root store included),
// or content that does not parse; each diagnostic names the file and the
// reason.
func (plugin) Configure(_ context.Context, cfg sdk.Config) (sdk.Instance, error) {
	c, diags := decodeConfig(cfg)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	stamp := stampOf(c.watched()) // before reading: a change during load is seen
	snap, diags := load(c)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	return newSource(c, snap, stamp), nil
}

// rawConfig is the block as the core sends it; absent optional attributes
// arrive as JSON null.
type rawConfig struct {
	Roots         []string `json:"roots"`
	Intermediates []string `json:"intermediates"`
	Metadata      *string  `json:"metadata"`
	System        *bool    `json:"system"`
	PollInterval  *string  `json:"poll_interval"`
}

// config is a validated configuration.
type config struct {
	Roots, Intermediates []string
	Metadata             string
	System               bool
	Poll                 time.Duration // 0: never poll
}

// minPoll bounds the polling work an operator can ask for.
const minPoll = 100 * time.Millisecond

func decodeConfig(cfg sdk.Config) (*config, sdk.Diagnostics) {
	var raw rawConfig
	if err := cfg.Decode(&raw); err != nil {
		return nil, sdk.Errorf(nil, "invalid trust configuration", err.Error())
	}
	var diags sdk.Diagnostics
	c := &config{Roots: raw.Roots, Intermediates: raw.Intermediates, Poll: 10 * time.Second}
	for _, l := range []struct {
		name  string
		paths []string
	}{{"roots", raw.Roots}, {"intermediates", raw.Intermediates}} {
		for _, p := range l.paths {
			if p == "" {
				diags = append(diags, sdk.Errorf([]string{l.name}, "empty path", fmt.Sprintf("%q lists an empty path", l.name))...)
			}
		}
	}
	if raw.Metadata != nil {
		if *raw.Metadata == "" {
			diags = append(diags, sdk.Errorf([]string{"metadata"}, "empty path", `"metadata" must name a file`)...)
		}
		c.Metadata = *raw.Metadata
	}
	if raw.System != nil {
		c.System = *raw.System
	}
	if raw.PollInterval != nil {
		d, err := time.ParseDuration(*raw.PollInterval)
		switch {
		case err != nil:
			diags = append(diags, sdk.Errorf([]string{"poll_interval"}, "invalid poll interval", err.Error())...)
		case d != 0 && d < minPoll:
			diags = append(diags, sdk.Errorf([]string{"poll_interval"}, "poll interval too short",
				fmt.Sprintf("poll_interval must be 0s (never) or at least %v, not %v", minPoll, d))...)
		default:
			c.Poll = d
		}
	}
	if len(c.Roots) == 0 && len(c.Intermediates) == 0 && !c.System {
		diags = append(diags, sdk.Errorf([]string{"roots"}, "no certificates",
			`list files or directories in "roots" or "intermediates", or set system = true`)...)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return c, diags
}
