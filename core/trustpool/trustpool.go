// Package trustpool combines trust sources (sdk.Trust instances, in or out
// of process) into the bundler's pool and keeps it current: when a source
// reports a change, the whole pool is read again and swapped in, so a
// bundle request always sees one consistent pool.
package trustpool

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/pkid/pkid/core/bundle"
	"github.com/pkid/pkid/sdk"
)

// Build reads every source (named, for messages) and builds a pool.
// Platforms of the same name in several sources are one platform: the
// first source's (in name order) wins. Errors: a source's error, wrapped
// with its name; bundle.NewPool's.
func Build(ctx context.Context, sources map[string]sdk.Trust) (*bundle.Pool, error) {
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	var certs []sdk.TrustCert
	var platforms []sdk.Platform
	seen := map[string]bool{}
	for _, n := range names {
		err := sources[n].Certificates(ctx, func(c *sdk.TrustCert) error {
			// The source may reuse c after fn returns (gRPC buffers).
			certs = append(certs, sdk.TrustCert{DER: append([]byte(nil), c.DER...), Root: c.Root, Source: c.Source})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("trust %q: %w", n, err)
		}
		ps, err := sources[n].Platforms(ctx)
		if err != nil {
			return nil, fmt.Errorf("trust %q: platforms: %w", n, err)
		}
		for _, p := range ps {
			if !seen[p.Name] {
				seen[p.Name] = true
				platforms = append(platforms, p)
			}
		}
	}
	return bundle.NewPool(certs, platforms)
}

// Live is a pool rebuilt whenever a source changes. Safe for concurrent
// use.
type Live struct {
	sources map[string]sdk.Trust
	pool    atomic.Pointer[bundle.Pool]
	logf    func(format string, a ...any)
	rebuild chan struct{}
	wg      sync.WaitGroup
}

// Start builds the pool and watches every source until ctx ends. logf
// reports a rebuild that failed (the previous pool stays). Errors: as
// Build for the first pool; a source's Watch error.
func Start(ctx context.Context, sources map[string]sdk.Trust, logf func(string, ...any)) (*Live, error) {
	l := &Live{sources: sources, logf: logf, rebuild: make(chan struct{}, 1)}
	p, err := Build(ctx, sources)
	if err != nil {
		return nil, err
	}
	l.pool.Store(p)
	for name, s := range sources {
		ch, err := s.Watch(ctx)
		if err != nil {
			return nil, fmt.Errorf("trust %q: watch: %w", name, err)
		}
		if ch == nil {
			continue
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for range ch {
				select {
				case l.rebuild <- struct{}{}:
				default: // one pending rebuild covers several changes
				}
			}
		}()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-l.rebuild:
			}
			p, err := Build(ctx, sources)
			if err != nil {
				if ctx.Err() == nil && l.logf != nil {
					l.logf("trust: rebuilding the bundle pool failed, keeping the previous one: %v", err)
				}
				continue
			}
			l.pool.Store(p)
			if l.logf != nil {
				r, i := p.Len()
				l.logf("trust: bundle pool reloaded: %d roots, %d intermediates", r, i)
			}
		}
	}()
	return l, nil
}

// Pool returns the current pool.
func (l *Live) Pool() *bundle.Pool { return l.pool.Load() }

// Wait returns once the watchers have stopped (after Start's ctx ended).
func (l *Live) Wait() { l.wg.Wait() }
