package daemon

import (
	"context"
	"fmt"

	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/egress"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/core/scan"
	"github.com/pkid/pkid/core/server"
)

// scanOptions enables the scan endpoints when the pkid block has a scan
// block: the builtin checks plus the configured scancheck instances,
// dialling only what its allowlist allows.
func scanOptions(ctx context.Context, loaded *catalog.Loaded, host *pluginhost.Host) (*server.ScanOptions, error) {
	cfg := loaded.Config.Pkid.Scan
	if cfg == nil {
		return nil, nil
	}
	if host == nil {
		return nil, fmt.Errorf("serve: scan: no plugin host")
	}
	policy, err := egress.New(cfg.Allow)
	if err != nil {
		return nil, fmt.Errorf("serve: scan: %w", err)
	}
	checks, err := scan.OpenChecks(ctx, host, loaded.ScanChecks, cfg.Isolation == config.IsolationInProcess)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	r, err := scan.New(ctx, scan.Options{Checks: checks, Policy: policy})
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return &server.ScanOptions{Runner: r, MaxConcurrent: cfg.MaxConcurrent, MaxTimeout: cfg.MaxTimeout}, nil
}
