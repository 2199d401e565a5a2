package scan

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
)

// BuiltinType is the builtin scancheck plugin every scan runs.
const BuiltinType = "tls"

// OpenChecks opens the builtin checks on host, in process or in a plugin
// process of their own (inProcess false: a crash parsing what a scanned
// server sent does not take the caller down), and returns them followed by
// the configured instances (catalog.Loaded.ScanChecks), sorted by name.
// The host owns the instances: closing it closes them.
func OpenChecks(ctx context.Context, host *pluginhost.Host, configured map[string]sdk.ScanCheck, inProcess bool) ([]sdk.ScanCheck, error) {
	newPlugin, ok := catalog.LookupBuiltin(sdk.KindScanCheck, BuiltinType)
	if !ok {
		return nil, fmt.Errorf("scan: this pkid has no builtin %s %q plugin", sdk.KindScanCheck, BuiltinType)
	}
	inst, err := host.Open(ctx, pluginhost.OpenRequest{
		Spec: pluginhost.Spec{Kind: sdk.KindScanCheck, Type: BuiltinType, New: newPlugin},
		Name: BuiltinType, Config: []byte(`{}`), InProcess: inProcess,
	})
	if err != nil {
		return nil, fmt.Errorf("scan: starting the builtin checks: %w", err)
	}
	sc, ok := inst.(sdk.ScanCheck)
	if !ok {
		return nil, fmt.Errorf("scan: builtin %q is not a scancheck", BuiltinType)
	}
	out := []sdk.ScanCheck{sc}
	for _, name := range slices.Sorted(maps.Keys(configured)) {
		out = append(out, configured[name])
	}
	return out, nil
}
