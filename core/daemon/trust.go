package daemon

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"strings"

	"github.com/pkid/pkid/core/aia"
	"github.com/pkid/pkid/core/bundle"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/core/egress"
	"github.com/pkid/pkid/core/server"
	"github.com/pkid/pkid/core/trustpool"
)

// bundler wires the trust blocks and the bundle block: the pool of every
// trust instance (rebuilt when one changes), AIA chasing when enabled, and
// the egress policy every daemon dial goes through. Without trust blocks
// the bundle endpoint is off. The allowlist is empty unless configured, so
// the daemon dials nothing: a domain bundle or an AIA fetch is then a 403
// naming the host (docs/bundler-operations.md). certinfo's domain mode
// dials through the same policy once the allowlist names something.
func (d *Daemon) bundler(ctx context.Context, l *catalog.Loaded) (*server.BundleOptions, func(context.Context, string) ([]*x509.Certificate, error), error) {
	bb := l.Config.Bundle
	policy, err := egress.New(bb.Allow)
	if err != nil {
		return nil, nil, fmt.Errorf("serve: bundle block: %w", err)
	}
	var dial func(context.Context, string) ([]*x509.Certificate, error)
	if !policy.Empty() {
		dial = func(ctx context.Context, hostport string) ([]*x509.Certificate, error) {
			host, _, err := net.SplitHostPort(hostport)
			if err != nil {
				return nil, err
			}
			return policy.PeerCertificates(ctx, hostport, host)
		}
	}
	if len(l.Trusts) == 0 {
		if bb.AIA || len(bb.Allow) > 0 {
			d.log.Warn("the bundle block has no effect without a trust block: the bundle endpoint is off")
		}
		return nil, dial, nil
	}
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	live, err := trustpool.Start(tctx, l.Trusts, func(format string, a ...any) { d.log.Info(fmt.Sprintf(format, a...)) })
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("serve: %w", err)
	}
	d.stopTrust = cancel
	roots, inters := live.Pool().Len()
	d.log.Info("bundler ready", "trust_blocks", len(l.Trusts), "roots", roots, "intermediates", inters,
		"aia", bb.AIA, "egress_allowlist", len(bb.Allow))
	bo := &server.BundleOptions{Pool: live.Pool, Stash: bb.IntDir, DialTLS: policy.PeerCertificates,
		Limits: bundle.Limits{MaxDepth: l.Config.Pkid.Limits.WithDefaults().MaxPathLen}}
	if bb.AIA {
		bo.Fetcher = &aia.Fetcher{Policy: policy, Timeout: bb.AIATimeout}
	}
	if bb.CTLogList != "" {
		// Read now so that a bad list shows at start: a file's failure
		// stops the daemon; a URL that cannot be read yet is read again
		// on use, and SCTs are reported unverified until then
		// (docs/ct.md).
		v := ct.NewLogListVerifier(bb.CTLogList, bb.CTLogListKey, nil)
		if err := v.Load(ctx); err != nil {
			if !strings.HasPrefix(bb.CTLogList, "http://") && !strings.HasPrefix(bb.CTLogList, "https://") {
				cancel()
				d.stopTrust = nil
				r := bb.CTLogListRange
				return nil, nil, fmt.Errorf("serve: %s:%d:%d: ct_log_list: %w", r.Filename, r.Start.Line, r.Start.Column, err)
			}
			d.log.Warn("bundle: ct_log_list cannot be read; embedded SCTs are reported unverified until it can", "ct_log_list", bb.CTLogList, "error", err.Error())
		} else {
			d.log.Info("bundler verifies embedded SCTs", "ct_log_list", bb.CTLogList)
		}
		bo.SCTs = v
	}
	return bo, dial, nil
}
