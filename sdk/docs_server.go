package sdk

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
	"google.golang.org/grpc"
)

// docStoreServer serves sdk.DocStore for the certstore instances that
// implement it; it is registered with the CertStore service.
type docStoreServer struct {
	pb.UnimplementedDocStoreServer
	srv *server
}

// ds returns the DocStore of certstore instance name.
func (s *docStoreServer) ds(name string) (DocStore, error) {
	cs, err := (&certStoreServer{srv: s.srv}).cs(name)
	if err != nil {
		return nil, err
	}
	d, ok := cs.(DocStore)
	if !ok {
		return nil, wire.ToStatus(fmt.Errorf("certstore %q keeps no documents: %w", name, ErrUnimplemented))
	}
	return d, nil
}

func (s *docStoreServer) PutDoc(ctx context.Context, r *pb.PutDocRequest) (*pb.PutDocResponse, error) {
	d, err := s.ds(r.Instance)
	if err != nil {
		return nil, err
	}
	if r.Doc == nil {
		return nil, wire.ToStatus(fmt.Errorf("doc: no document: %w", ErrInvalidArgument))
	}
	v, err := d.PutDoc(ctx, docFromPB(r.Doc))
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.PutDocResponse{Version: v}, nil
}

func (s *docStoreServer) GetDoc(ctx context.Context, r *pb.GetDocRequest) (*pb.Doc, error) {
	d, err := s.ds(r.Instance)
	if err != nil {
		return nil, err
	}
	doc, err := d.GetDoc(ctx, r.Kind, r.Id)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	return docToPB(doc), nil
}

func (s *docStoreServer) DeleteDoc(ctx context.Context, r *pb.DeleteDocRequest) (*pb.DeleteDocResponse, error) {
	d, err := s.ds(r.Instance)
	if err != nil {
		return nil, err
	}
	if err := d.DeleteDoc(ctx, r.Kind, r.Id, r.Version); err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.DeleteDocResponse{}, nil
}

func (s *docStoreServer) FindDocs(r *pb.FindDocsRequest, stream grpc.ServerStreamingServer[pb.Doc]) error {
	d, err := s.ds(r.Instance)
	if err != nil {
		return err
	}
	limit := r.Limit
	if limit > int64(docWireLimitCap) {
		limit = int64(docWireLimitCap) // more than any store holds: no limit in effect
	}
	return wire.ToStatus(d.FindDocs(stream.Context(), r.Kind, r.Key, int(limit), func(doc *Doc) error {
		return stream.Send(docToPB(doc))
	}))
}

// docWireLimitCap caps a FindDocs limit, which crosses the wire as a 64-bit
// number, so that it fits an int everywhere.
const docWireLimitCap = 1 << 30

// docToPB is doc on the wire (sdk/rpc has the other direction).
func docToPB(doc *Doc) *pb.Doc {
	return &pb.Doc{
		Kind: doc.Kind, Id: doc.ID, Version: doc.Version, Data: doc.Data, Index: doc.Index,
		ExpiresAt: wire.Timestamp(doc.ExpiresAt), UpdatedAt: wire.Timestamp(doc.UpdatedAt),
	}
}

// docFromPB is a Doc off the wire. Times come back in UTC.
func docFromPB(p *pb.Doc) *Doc {
	d := &Doc{
		Kind: p.Kind, ID: p.Id, Version: p.Version, Index: p.Index,
		ExpiresAt: wire.Time(p.ExpiresAt), UpdatedAt: wire.Time(p.UpdatedAt),
	}
	if len(p.Data) > 0 {
		d.Data = json.RawMessage(p.Data)
	}
	return d
}
