package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
)

// CapDocs: the instance implements sdk.DocStore.
const CapDocs = wire.CapDocs

// docsClient is the DocStore half of a certstore view whose instance
// reported CapDocs. It checks arguments before sending them: proto3
// strings must be UTF-8, so a malformed id would otherwise fail in the
// marshaller, not as sdk.ErrInvalidArgument.
type docsClient struct {
	ds       pb.DocStoreClient
	instance string
}

func (d docsClient) PutDoc(ctx context.Context, doc *sdk.Doc) (int64, error) {
	if err := sdk.CheckDoc(doc); err != nil {
		return 0, err
	}
	r, err := d.ds.PutDoc(ctx, &pb.PutDocRequest{Instance: d.instance, Doc: docToPB(doc)})
	if err != nil {
		return 0, wire.FromStatus(err)
	}
	return r.Version, nil
}

func (d docsClient) GetDoc(ctx context.Context, kind, id string) (*sdk.Doc, error) {
	if err := sdk.CheckDocKey(kind, id); err != nil {
		return nil, err
	}
	r, err := d.ds.GetDoc(ctx, &pb.GetDocRequest{Instance: d.instance, Kind: kind, Id: id})
	if err != nil {
		return nil, wire.FromStatus(err)
	}
	return docFromPB(r), nil
}

func (d docsClient) DeleteDoc(ctx context.Context, kind, id string, version int64) error {
	if err := sdk.CheckDocKey(kind, id); err != nil {
		return err
	}
	_, err := d.ds.DeleteDoc(ctx, &pb.DeleteDocRequest{Instance: d.instance, Kind: kind, Id: id, Version: version})
	return wire.FromStatus(err)
}

// FindDocs reads the plugin's stream; an error from fn cancels it.
func (d docsClient) FindDocs(ctx context.Context, kind, key string, limit int, fn func(*sdk.Doc) error) error {
	if err := sdk.CheckDocFind(kind, key, limit); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := d.ds.FindDocs(ctx, &pb.FindDocsRequest{Instance: d.instance, Kind: kind, Key: key, Limit: int64(limit)})
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
		if err := fn(docFromPB(r)); err != nil {
			return err
		}
	}
}

func docToPB(doc *sdk.Doc) *pb.Doc {
	return &pb.Doc{
		Kind: doc.Kind, Id: doc.ID, Version: doc.Version, Data: doc.Data, Index: doc.Index,
		ExpiresAt: wire.Timestamp(doc.ExpiresAt), UpdatedAt: wire.Timestamp(doc.UpdatedAt),
	}
}

func docFromPB(p *pb.Doc) *sdk.Doc {
	d := &sdk.Doc{
		Kind: p.Kind, ID: p.Id, Version: p.Version, Index: p.Index,
		ExpiresAt: wire.Time(p.ExpiresAt), UpdatedAt: wire.Time(p.UpdatedAt),
	}
	if len(p.Data) > 0 {
		d.Data = json.RawMessage(p.Data)
	}
	return d
}

// The views of a certstore that keeps documents, with and without leases.
type (
	docCertStoreClient struct {
		*certStoreClient
		docsClient
	}
	leasingDocCertStoreClient struct {
		leasingCertStoreClient
		docsClient
	}
)

// withDocs adds sdk.DocStore to view, the certstore view of instance, when
// the instance reported CapDocs.
func (c *Client) withDocs(view sdk.CertStore, instance string) sdk.CertStore {
	if !c.has(sdk.KindCertStore, instance, CapDocs) {
		return view
	}
	d := docsClient{ds: c.ds, instance: instance}
	switch v := view.(type) {
	case *certStoreClient:
		return docCertStoreClient{v, d}
	case leasingCertStoreClient:
		return leasingDocCertStoreClient{v, d}
	}
	panic(fmt.Sprintf("rpc: no documents view for %T", view))
}

var (
	_ sdk.DocStore  = docCertStoreClient{}
	_ sdk.CertStore = docCertStoreClient{}
	_ sdk.DocStore  = leasingDocCertStoreClient{}
	_ sdk.Leaser    = leasingDocCertStoreClient{}
	_ sdk.CertStore = leasingDocCertStoreClient{}
)
