package pluginhost

import (
	"context"
	"time"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// callback wraps a caller's streaming callback so that its error can be
// told apart from the plugin's: the caller gets it back as is, not named
// as the instance's failure.
type callback[T any] struct {
	fn  func(T) error
	err error
}

func (c *callback[T]) call(v T) error {
	if err := c.fn(v); err != nil {
		c.err = err
		return err
	}
	return nil
}

// result is the error a streaming facade call returns.
func (c *callback[T]) result(err error) error {
	if c.err != nil {
		return c.err
	}
	return err
}

// trust is the host's view of an out-of-process trust instance.
type trust struct {
	p    *Process
	name string
	part part
}

func (p *Process) trust(name string) *trust {
	return &trust{p: p, name: name, part: part{sdk.KindTrust, name}}
}

func (t *trust) Close() error { return nil }

// Certificates streams the listing from the plugin. If the plugin process
// dies mid-listing, fn has seen part of it and the error wraps
// sdk.ErrUnavailable: callers list again.
func (t *trust) Certificates(ctx context.Context, fn func(*sdk.TrustCert) error) error {
	cb := &callback[*sdk.TrustCert]{fn: fn}
	_, err := call(ctx, t.p, t.part, func(c *rpc.Client) (none, error) {
		return none{}, c.Trust(t.name).Certificates(ctx, cb.call)
	})
	return cb.result(err)
}

func (t *trust) Platforms(ctx context.Context) ([]sdk.Platform, error) {
	return call(ctx, t.p, t.part, func(c *rpc.Client) ([]sdk.Platform, error) { return c.Trust(t.name).Platforms(ctx) })
}

// Watch survives restarts: when the plugin's watch stream ends before ctx
// (the process died and was restarted, or the source's watch broke), the
// facade watches again on the live process and reports a change, since
// the source may have changed while nobody watched. The channel closes
// only when ctx ends.
func (t *trust) Watch(ctx context.Context) (<-chan struct{}, error) {
	in, err := t.watch(ctx)
	if err != nil || in == nil {
		return nil, err
	}
	out := make(chan struct{}, 1)
	go t.follow(ctx, in, out)
	return out, nil
}

func (t *trust) watch(ctx context.Context) (<-chan struct{}, error) {
	return call(ctx, t.p, t.part, func(c *rpc.Client) (<-chan struct{}, error) { return c.Trust(t.name).Watch(ctx) })
}

// watchRetry bounds the wait between attempts to watch a source again.
var watchRetry = struct{ first, max time.Duration }{50 * time.Millisecond, 5 * time.Second}

// follow forwards in's changes to out (coalescing) until ctx ends,
// watching again whenever in closes early. The wait before watching again
// doubles while watches end soon after they start, so a source whose watch
// keeps breaking costs a re-read every few seconds, not a busy loop.
func (t *trust) follow(ctx context.Context, in <-chan struct{}, out chan struct{}) {
	defer close(out)
	notify := func() {
		select {
		case out <- struct{}{}:
		default: // one is pending already
		}
	}
	backoff := watchRetry.first
	for in != nil {
		since := time.Now()
		for range in {
			notify()
		}
		if ctx.Err() != nil {
			return
		}
		if time.Since(since) > watchRetry.max {
			backoff = watchRetry.first // a watch that lasted: a restart, not a loop
		}
		t.p.log.Info("the trust source's watch ended; watching again", "instance", t.name, "in", backoff)
		in, backoff = t.rewatch(ctx, backoff)
		// Whatever changed while nobody watched went unreported.
		notify()
	}
	<-ctx.Done() // the restarted build's source never changes
}

// rewatch watches the source again after backoff, retrying with a doubling
// wait; it returns the channel (nil: the source never changes, or ctx
// ended) and the wait to use next time.
func (t *trust) rewatch(ctx context.Context, backoff time.Duration) (<-chan struct{}, time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return nil, backoff
		case <-time.After(backoff):
		}
		next := min(backoff*2, watchRetry.max)
		ch, err := t.watch(ctx)
		if err == nil || ctx.Err() != nil {
			return ch, next
		}
		t.p.log.Warn("watching the trust source again failed", "instance", t.name, "error", err, "retry_in", next)
		backoff = next
	}
}
