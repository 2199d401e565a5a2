package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
	"google.golang.org/grpc"
)

// leasingCertStoreClient is the view of a certstore whose instance reported
// CapLease.
type leasingCertStoreClient struct{ *certStoreClient }

// Lease opens the Lease stream: the plugin holds the lease while the stream
// is open. Errors: sdk.ErrHeld, sdk.ErrUnavailable, sdk.ErrInvalidArgument,
// sdk.ErrUnimplemented (the instance lost the capability on a restart), or
// ctx's error.
func (s leasingCertStoreClient) Lease(ctx context.Context, req sdk.LeaseRequest) (sdk.Lease, error) {
	// The stream outlives ctx, which bounds only the acquisition.
	sctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	st, err := s.c.cs.Lease(sctx)
	if err == nil {
		err = st.Send(&pb.LeaseRequest{Instance: s.instance, Name: req.Name, CheckIntervalMs: req.CheckInterval.Milliseconds()})
	}
	var ev *pb.LeaseEvent
	if err == nil {
		ev, err = st.Recv()
	}
	if !stop() || err != nil {
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("lease %q: stream ended before the lease was held: %w", req.Name, sdk.ErrUnavailable)
		}
		return nil, wire.FromStatus(err)
	}
	l := &clientLease{holder: ev.HolderId, st: st, cancel: cancel, lost: make(chan struct{}), done: make(chan struct{})}
	go l.watch(st)
	return l, nil
}

// clientLease is a lease held by a plugin on the host's behalf.
type clientLease struct {
	holder string
	st     grpc.BidiStreamingClient[pb.LeaseRequest, pb.LeaseEvent]
	cancel context.CancelFunc
	lost   chan struct{} // closed on loss
	done   chan struct{} // closed when watch returns

	mu       sync.Mutex
	released bool
	err      error
}

// watch waits for the stream to end: an end the host did not ask for
// (the store lost the lease, the plugin process died) is a loss.
func (l *clientLease) watch(st grpc.BidiStreamingClient[pb.LeaseRequest, pb.LeaseEvent]) {
	defer close(l.done)
	var err error
	for err == nil {
		_, err = st.Recv()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return
	}
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("lease stream ended: %w", sdk.ErrUnavailable)
	}
	l.err = wire.FromStatus(err)
	close(l.lost)
}

func (l *clientLease) Lost() <-chan struct{} { return l.lost }

func (l *clientLease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *clientLease) Holder() string { return l.holder }

// Release closes the host's side of the stream, which makes the plugin
// release the lease and then end the stream, and waits (bounded by ctx) for
// that end: when Release returns nil the lease is free for others. On
// ctx's end the stream is cancelled, which releases it too, later.
func (l *clientLease) Release(ctx context.Context) error {
	l.mu.Lock()
	l.released = true
	l.mu.Unlock()
	defer l.cancel()
	if err := l.st.CloseSend(); err != nil {
		return nil // the stream has ended already
	}
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ sdk.Leaser = leasingCertStoreClient{}
