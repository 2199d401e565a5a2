package sdk

import (
	"context"
	"fmt"
	"time"

	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
	"google.golang.org/grpc"
)

// leaseReleaseTimeout bounds the release of a lease whose stream ended: the
// stream's context is done by then, and a stuck store must not keep the
// handler (and the lease) forever.
const leaseReleaseTimeout = 5 * time.Second

// Lease serves sdk.Leaser: it holds the lease while the stream is open. The
// host closing its side asks for a release, which is done before the stream
// ends (so the host's Release returns once the lease is free); the host
// cancelling the stream (or its process going away) releases it too; the
// store losing it ends the stream with the store's error.
func (s *certStoreServer) Lease(stream grpc.BidiStreamingServer[pb.LeaseRequest, pb.LeaseEvent]) error {
	r, err := stream.Recv()
	if err != nil {
		return err
	}
	cs, err := s.cs(r.Instance)
	if err != nil {
		return err
	}
	l, ok := cs.(Leaser)
	if !ok {
		return wire.ToStatus(fmt.Errorf("certstore %q offers no leases: %w", r.Instance, ErrUnimplemented))
	}
	ctx := stream.Context()
	lease, err := l.Lease(ctx, LeaseRequest{Name: r.Name, CheckInterval: time.Duration(r.CheckIntervalMs) * time.Millisecond})
	if err != nil {
		return wire.ToStatus(err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), leaseReleaseTimeout)
		defer cancel()
		_ = lease.Release(rctx)
	}()
	if err := stream.Send(&pb.LeaseEvent{Held: true, HolderId: lease.Holder()}); err != nil {
		return err
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			if _, err := stream.Recv(); err != nil {
				return // io.EOF: the host asks for a release
			}
		}
	}()
	select {
	case <-closed:
		return nil // the deferred release runs before the stream ends
	case <-ctx.Done():
		return nil // the host went away
	case <-lease.Lost():
		err := lease.Err()
		if err == nil {
			err = fmt.Errorf("lease %q lost: %w", r.Name, ErrUnavailable)
		}
		return wire.ToStatus(err)
	}
}
