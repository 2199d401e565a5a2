package storesqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pkid/pkid/sdk"
)

// Plugin identity.
const (
	PluginName    = "sqlite"
	PluginVersion = "0.1.0"
)

// DefaultBusyTimeout is how long a write waits for a lock held by another
// process before failing with sdk.ErrUnavailable.
const DefaultBusyTimeout = 5 * time.Second

// New returns the sqlite certstore plugin.
func New() sdk.Plugin { return plugin{} }

type plugin struct{}

// config is the decoded certstore "sqlite" block. Absent optional attributes
// arrive as JSON null, which leaves the zero value.
type config struct {
	Path        string `json:"path"`
	BusyTimeout string `json:"busy_timeout"`
}

func (plugin) Info() sdk.Info {
	return sdk.Info{
		Name:        PluginName,
		Version:     PluginVersion,
		Kinds:       []string{sdk.KindCertStore},
		Description: "certificate store in an embedded SQLite database",
	}
}

// Schema returns the certstore block schema; nil for other kinds.
func (plugin) Schema(kind string) *sdk.Schema {
	if kind != sdk.KindCertStore {
		return nil
	}
	return sdk.NewSchema().
		String("path", sdk.Required, "database file; created (0600, parent directory 0700) if missing").
		String("busy_timeout", sdk.Optional, "how long a write waits for a lock held by another process (Go duration)").
		Default(`"5s"`)
}

// ValidateConfig checks the block without touching the file system.
func (plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	_, diags := parseConfig(cfg)
	return diags
}

// Configure opens (creating if needed) and migrates the database. Errors: a
// *sdk.DiagnosticsError for a bad block, otherwise an open or migration
// error (a database newer than this build wraps sdk.ErrFailedPrecondition).
func (plugin) Configure(ctx context.Context, cfg sdk.Config) (sdk.Instance, error) {
	opts, diags := parseConfig(cfg)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	return Open(ctx, opts)
}

// parseConfig decodes and checks cfg into Options.
func parseConfig(cfg sdk.Config) (Options, sdk.Diagnostics) {
	var c config
	if err := cfg.Decode(&c); err != nil {
		return Options{}, sdk.Errorf(nil, "invalid configuration", err.Error())
	}
	var diags sdk.Diagnostics
	opts := Options{Path: c.Path, BusyTimeout: DefaultBusyTimeout}
	switch {
	case strings.TrimSpace(c.Path) == "":
		diags = append(diags, sdk.Errorf([]string{"path"}, "missing database path",
			"path must name the SQLite database file")...)
	case strings.HasPrefix(c.Path, ":") || strings.HasPrefix(c.Path, "file:"):
		// ":memory:" and URIs cannot be shared by a writer and a read pool.
		diags = append(diags, sdk.Errorf([]string{"path"}, "invalid database path",
			"path must be a file path (not :memory: or a file: URI)")...)
	}
	if c.BusyTimeout != "" {
		d, err := time.ParseDuration(c.BusyTimeout)
		switch {
		case err != nil:
			diags = append(diags, sdk.Errorf([]string{"busy_timeout"}, "invalid busy_timeout",
				fmt.Sprintf("%q is not a Go duration such as \"5s\"", c.BusyTimeout))...)
		case d < 0:
			diags = append(diags, sdk.Errorf([]string{"busy_timeout"}, "invalid busy_timeout",
				"busy_timeout must not be negative")...)
		default:
			opts.BusyTimeout = d
		}
	}
	return opts, diags
}
