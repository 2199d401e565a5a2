package sdk

import (
	"context"
	"errors"
	"testing"

	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
)

// plainStore is a certstore that keeps no documents.
type plainStore struct{}

func (plainStore) Close() error                                                    { return nil }
func (plainStore) Put(context.Context, *CertRecord) error                          { return nil }
func (plainStore) Get(context.Context, string, string) (*CertRecord, error)        { return nil, ErrNotFound }
func (plainStore) List(context.Context, ListFilter, func(*CertRecord) error) error { return nil }
func (plainStore) Revoke(context.Context, RevokeRequest) error                     { return nil }
func (plainStore) PutOCSP(context.Context, *OCSPRecord) error                      { return nil }
func (plainStore) GetOCSP(context.Context, string, string) (*OCSPRecord, error) {
	return nil, ErrNotFound
}

// oneStore serves plainStore instances.
type oneStore struct{}

func (oneStore) Info() Info {
	return Info{Name: "plain", Version: "0.0.1", Kinds: []string{KindCertStore}}
}
func (oneStore) Schema(string) *Schema                               { return NewSchema() }
func (oneStore) ValidateConfig(context.Context, Config) Diagnostics  { return nil }
func (oneStore) Configure(context.Context, Config) (Instance, error) { return plainStore{}, nil }

// A host asking an instance without documents for them (after a restart
// brought a build without the capability) gets ErrUnimplemented, and the
// adapter reports no capability for it.
func TestDocStoreServerUnimplemented(t *testing.T) {
	srv := newServer(oneStore{})
	ctx := context.Background()
	r, err := srv.Configure(ctx, &pb.ConfigureRequest{Kind: KindCertStore, Instance: "a", ConfigJson: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Capabilities) != 0 {
		t.Fatalf("capabilities %q for a store without documents", r.Capabilities)
	}
	ds := &docStoreServer{srv: srv}
	_, putErr := ds.PutDoc(ctx, &pb.PutDocRequest{Instance: "a", Doc: &pb.Doc{Kind: "k", Id: "i", Data: []byte(`{}`)}})
	_, getErr := ds.GetDoc(ctx, &pb.GetDocRequest{Instance: "a", Kind: "k", Id: "i"})
	_, delErr := ds.DeleteDoc(ctx, &pb.DeleteDocRequest{Instance: "a", Kind: "k", Id: "i"})
	findErr := ds.FindDocs(&pb.FindDocsRequest{Instance: "a", Kind: "k", Key: "x"}, nil)
	for name, err := range map[string]error{"PutDoc": putErr, "GetDoc": getErr, "DeleteDoc": delErr, "FindDocs": findErr} {
		if !errors.Is(wire.FromStatus(err), ErrUnimplemented) {
			t.Errorf("%s: %v, want ErrUnimplemented", name, err)
		}
	}
}
