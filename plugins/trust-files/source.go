package trustfiles

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkid/pkid/sdk"
)

// source is a configured trust instance.
type source struct {
	cfg  *config
	snap atomic.Pointer[snapshot]

	mu       sync.Mutex
	watchers map[chan struct{}]struct{}
	stamp    [sha256.Size]byte // file metadata at the last load
	stop     context.CancelFunc
	done     chan struct{}
}

func newSource(c *config, s *snapshot, stamp [sha256.Size]byte) *source {
	src := &source{cfg: c, watchers: map[chan struct{}]struct{}{}, stamp: stamp}
	src.snap.Store(s)
	if c.Poll > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		src.stop, src.done = cancel, make(chan struct{})
		go src.poll(ctx)
	}
	return src
}

// Close stops polling.
func (s *source) Close() error {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	return nil
}

// Certificates lists the current snapshot; a reload never changes a
// listing already under way.
func (s *source) Certificates(ctx context.Context, fn func(*sdk.TrustCert) error) error {
	snap := s.snap.Load()
	for i := range snap.certs {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := snap.certs[i] // fn may keep or change its copy
		if err := fn(&c); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Platforms returns the platform metadata of the current snapshot.
func (s *source) Platforms(ctx context.Context) ([]sdk.Platform, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ps := s.snap.Load().platforms
	out := make([]sdk.Platform, len(ps))
	for i, p := range ps {
		p.Roots = slices.Clone(p.Roots)
		out[i] = p
	}
	return out, nil
}

// Watch returns a channel receiving a value after each reload; nil when
// poll_interval is 0s. The channel holds one pending value, so a slow
// reader sees one notification for several reloads.
func (s *source) Watch(ctx context.Context) (<-chan struct{}, error) {
	if s.cfg.Poll == 0 {
		return nil, nil
	}
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.watchers[ch] = struct{}{}
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		delete(s.watchers, ch)
		s.mu.Unlock()
		close(ch)
	}()
	return ch, nil
}

// poll reloads when the file metadata changes. A reload that has errors
// (a half-written file from a CI job) keeps the previous snapshot and is
// retried at the next tick, because the stamp is only advanced on success.
func (s *source) poll(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stamp := stampOf(s.cfg.watched())
		if stamp == s.stamp {
			continue
		}
		snap, diags := load(s.cfg)
		if err := diags.Err(); err != nil {
			fmt.Fprintf(os.Stderr, "trust-files: reload failed, keeping the previous content: %v\n", err)
			continue
		}
		s.stamp = stamp
		s.snap.Store(snap)
		s.mu.Lock()
		for ch := range s.watchers {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
		s.mu.Unlock()
	}
}

// stampOf hashes the name, size and modification time of every path and,
// for directories, of every entry: any rewrite, addition or removal
// changes it.
func stampOf(paths []string) [sha256.Size]byte {
	h := sha256.New()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(h, "%s missing\x00", p)
			continue
		}
		fmt.Fprintf(h, "%s %d %d\x00", p, fi.Size(), fi.ModTime().UnixNano())
		if !fi.IsDir() {
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if fi, err := os.Stat(p + string(os.PathSeparator) + e.Name()); err == nil {
				fmt.Fprintf(h, "%s %d %d\x00", e.Name(), fi.Size(), fi.ModTime().UnixNano())
			}
		}
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
