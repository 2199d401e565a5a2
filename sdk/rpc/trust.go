package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
)

// Trust returns the named trust instance of this plugin process.
func (c *Client) Trust(instance string) sdk.Trust {
	return &trustClient{c: c, instance: instance}
}

type trustClient struct {
	c        *Client
	instance string
}

// Close is a no-op: the host owns the instance's life cycle (CloseInstance).
func (t *trustClient) Close() error { return nil }

// Certificates calls fn for each certificate as it arrives. An error from
// fn cancels the stream, which stops the listing in the plugin, and is
// returned as is.
func (t *trustClient) Certificates(ctx context.Context, fn func(*sdk.TrustCert) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := t.c.tr.Certificates(ctx, &pb.CertificatesRequest{Instance: t.instance})
	if err != nil {
		return wire.FromStatus(err)
	}
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return wire.FromStatus(err)
		}
		if err := fn(&sdk.TrustCert{DER: r.Der, Root: r.Root, Source: r.Source}); err != nil {
			return err
		}
	}
}

func (t *trustClient) Platforms(ctx context.Context) ([]sdk.Platform, error) {
	r, err := t.c.tr.Platforms(ctx, &pb.PlatformsRequest{Instance: t.instance})
	if err != nil {
		return nil, wire.FromStatus(err)
	}
	var out []sdk.Platform
	for _, p := range r.Platforms {
		out = append(out, sdk.Platform{
			Name: p.Name, Weight: int(p.Weight), HashAlgo: p.HashAlgo, KeyAlgo: p.KeyAlgo,
			AllRoots: p.AllRoots, Roots: p.Roots,
		})
	}
	return out, nil
}

// Watch opens the Watch stream and waits for the plugin's answer, so the
// source's own Watch error is returned here; a source that never changes
// gives a nil channel. Changes are coalesced: a value still unread when the
// next change arrives stands for both (the host reads the source again
// either way).
//
// The channel closes when ctx ends, and also when the stream ends first
// (the plugin process went away, the source's watch broke): a caller that
// finds it closed while ctx is live should watch again.
func (t *trustClient) Watch(ctx context.Context) (<-chan struct{}, error) {
	sctx, cancel := context.WithCancel(ctx)
	st, err := t.c.tr.Watch(sctx, &pb.WatchRequest{Instance: t.instance})
	var first *pb.WatchEvent
	if err == nil {
		first, err = st.Recv()
	}
	if err != nil {
		cancel()
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("trust %q: watch stream ended before the plugin answered: %w", t.instance, sdk.ErrUnavailable)
		}
		return nil, wire.FromStatus(err)
	}
	switch first.Type {
	case pb.WatchEvent_TYPE_STATIC:
		cancel()
		return nil, nil
	case pb.WatchEvent_TYPE_WATCHING:
	default:
		cancel()
		return nil, fmt.Errorf("trust %q: watch answered with event %v, want WATCHING or STATIC", t.instance, first.Type)
	}
	ch := make(chan struct{}, 1)
	go func() {
		defer cancel()
		defer close(ch)
		for {
			ev, err := st.Recv()
			if err != nil {
				return
			}
			if ev.Type == pb.WatchEvent_TYPE_CHANGED {
				select {
				case ch <- struct{}{}:
				default: // one is pending already
				}
			}
		}
	}()
	return ch, nil
}

var _ sdk.Trust = (*trustClient)(nil)
