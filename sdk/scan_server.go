package sdk

import (
	"context"

	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// scanCheckServer serves the ScanCheck instances of a plugin process.
type scanCheckServer struct {
	pb.UnimplementedScanCheckServer
	srv *server
}

func (s *scanCheckServer) check(name string) (ScanCheck, error) {
	inst, err := s.srv.instance(KindScanCheck, name)
	if err != nil {
		return nil, err
	}
	sc, ok := inst.(ScanCheck)
	if !ok {
		return nil, status.Errorf(codes.Internal, "instance %q is not a scancheck", name)
	}
	return sc, nil
}

func (s *scanCheckServer) Families(ctx context.Context, r *pb.FamiliesRequest) (*pb.FamiliesResponse, error) {
	sc, err := s.check(r.Instance)
	if err != nil {
		return nil, err
	}
	fams, err := sc.Families(ctx)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	out := &pb.FamiliesResponse{Families: make([]*pb.ScanFamily, 0, len(fams))}
	for _, f := range fams {
		pf := &pb.ScanFamily{Name: f.Name, Description: f.Description}
		for _, c := range f.Checks {
			pf.Checks = append(pf.Checks, &pb.ScanCheckInfo{Name: c.Name, Description: c.Description})
		}
		out.Families = append(out.Families, pf)
	}
	return out, nil
}

// Run sends each finding as the check makes it. The stream's context is
// the check's: the host's deadline (the per-host timeout) and its
// cancellation reach the check, and once the host stops reading, Send
// fails and the check's callback returns that error.
func (s *scanCheckServer) Run(r *pb.RunRequest, stream grpc.ServerStreamingServer[pb.Finding]) error {
	sc, err := s.check(r.Instance)
	if err != nil {
		return err
	}
	req := ScanRequest{Family: r.Family, Check: r.Check, Host: r.Host, IP: r.Ip}
	return wire.ToStatus(sc.Run(stream.Context(), req, func(f *Finding) error {
		return stream.Send(&pb.Finding{Family: f.Family, Check: f.Check, Grade: string(f.Grade), Reason: f.Reason, OutputJson: f.Output})
	}))
}
