package pluginhost

import (
	"context"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// scanCheck is the host's view of an out-of-process scancheck instance.
type scanCheck struct {
	p    *Process
	name string
	part part
}

func (p *Process) scanCheck(name string) *scanCheck {
	return &scanCheck{p: p, name: name, part: part{sdk.KindScanCheck, name}}
}

func (s *scanCheck) Close() error { return nil }

func (s *scanCheck) Families(ctx context.Context) ([]sdk.ScanFamily, error) {
	return call(ctx, s.p, s.part, func(c *rpc.Client) ([]sdk.ScanFamily, error) { return c.ScanCheck(s.name).Families(ctx) })
}

// Run streams the check's findings from the plugin; ctx's deadline and
// cancellation reach the check. A check cut short by the plugin process
// dying fails with sdk.ErrUnavailable after the findings made so far.
func (s *scanCheck) Run(ctx context.Context, req sdk.ScanRequest, fn func(*sdk.Finding) error) error {
	cb := &callback[*sdk.Finding]{fn: fn}
	_, err := call(ctx, s.p, s.part, func(c *rpc.Client) (none, error) {
		return none{}, c.ScanCheck(s.name).Run(ctx, req, cb.call)
	})
	return cb.result(err)
}

var (
	_ sdk.Trust     = (*trust)(nil)
	_ sdk.ScanCheck = (*scanCheck)(nil)
)
