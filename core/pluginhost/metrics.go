package pluginhost

import (
	"errors"
	"time"

	"github.com/pkid/pkid/core/metrics"
	"github.com/pkid/pkid/sdk"
)

// observeCall records one call to an out-of-process plugin instance.
func observeCall(p *Process, pt part, start time.Time, err error) {
	metrics.Default.PluginCall(pt.kind, p.spec.Type, pt.name, time.Since(start), err, errors.Is(err, sdk.ErrUnavailable))
}

// observeBatch records one batched certificate write (one commit).
func observeBatch(store string, n int, start time.Time) {
	metrics.Default.StoreBatch(store, n, time.Since(start))
}
