package sdk

import (
	"context"
	"fmt"

	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// trustServer serves the Trust instances of a plugin process.
type trustServer struct {
	pb.UnimplementedTrustServer
	srv *server
}

func (s *trustServer) trust(name string) (Trust, error) {
	inst, err := s.srv.instance(KindTrust, name)
	if err != nil {
		return nil, err
	}
	tr, ok := inst.(Trust)
	if !ok {
		return nil, status.Errorf(codes.Internal, "instance %q is not a trust source", name)
	}
	return tr, nil
}

// Certificates sends each certificate as the source yields it. Send blocks
// under gRPC flow control while the host is behind, so a large listing
// never sits whole in either process; a host that stops reading cancels
// the stream, Send fails, and the source's callback returns that error.
func (s *trustServer) Certificates(r *pb.CertificatesRequest, stream grpc.ServerStreamingServer[pb.TrustCertificate]) error {
	tr, err := s.trust(r.Instance)
	if err != nil {
		return err
	}
	return wire.ToStatus(tr.Certificates(stream.Context(), func(c *TrustCert) error {
		// Send marshals before it returns: the source may reuse c.
		return stream.Send(&pb.TrustCertificate{Der: c.DER, Root: c.Root, Source: c.Source})
	}))
}

func (s *trustServer) Platforms(ctx context.Context, r *pb.PlatformsRequest) (*pb.PlatformsResponse, error) {
	tr, err := s.trust(r.Instance)
	if err != nil {
		return nil, err
	}
	ps, err := tr.Platforms(ctx)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	out := &pb.PlatformsResponse{Platforms: make([]*pb.Platform, 0, len(ps))}
	for _, p := range ps {
		out.Platforms = append(out.Platforms, &pb.Platform{
			Name: p.Name, Weight: int32(p.Weight), HashAlgo: p.HashAlgo, KeyAlgo: p.KeyAlgo,
			AllRoots: p.AllRoots, Roots: p.Roots,
		})
	}
	return out, nil
}

// Watch answers with WATCHING (or STATIC for a nil channel, ending the
// stream), then sends CHANGED for each value the source's channel yields,
// until the host cancels the stream. A channel the source closes while the
// stream lives breaks the Trust contract; the stream then ends with
// ErrUnavailable so that the host watches again.
func (s *trustServer) Watch(r *pb.WatchRequest, stream grpc.ServerStreamingServer[pb.WatchEvent]) error {
	tr, err := s.trust(r.Instance)
	if err != nil {
		return err
	}
	ctx := stream.Context()
	ch, err := tr.Watch(ctx)
	if err != nil {
		return wire.ToStatus(err)
	}
	if ch == nil {
		return stream.Send(&pb.WatchEvent{Type: pb.WatchEvent_TYPE_STATIC})
	}
	// Drain whatever the source still sends after this returns, so a
	// source that sends without watching ctx does not block forever.
	defer func() {
		go func() {
			for range ch {
			}
		}()
	}()
	if err := stream.Send(&pb.WatchEvent{Type: pb.WatchEvent_TYPE_WATCHING}); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return wire.ToStatus(ctx.Err())
		case _, ok := <-ch:
			if !ok {
				if ctx.Err() != nil {
					return wire.ToStatus(ctx.Err())
				}
				return wire.ToStatus(fmt.Errorf("trust %q: the source closed its watch channel before the watch was cancelled: %w", r.Instance, ErrUnavailable))
			}
			if err := stream.Send(&pb.WatchEvent{Type: pb.WatchEvent_TYPE_CHANGED}); err != nil {
				return err
			}
		}
	}
}
