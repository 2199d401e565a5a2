package sdk

import (
	"context"
	"errors"
	"testing"

	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
	"google.golang.org/grpc"
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

// recordingDocs keeps documents in name only: it records what reached it.
type recordingDocs struct {
	plainStore
	puts  int
	limit int
}

func (r *recordingDocs) PutDoc(_ context.Context, d *Doc) (int64, error) {
	r.puts++
	return d.Version + 1, CheckDoc(d)
}
func (r *recordingDocs) GetDoc(context.Context, string, string) (*Doc, error) {
	return nil, ErrNotFound
}
func (r *recordingDocs) DeleteDoc(context.Context, string, string, int64) error {
	return ErrNotFound
}
func (r *recordingDocs) FindDocs(_ context.Context, _, _ string, limit int, _ func(*Doc) error) error {
	r.limit = limit
	return nil
}

// docStream is the server side of a FindDocs stream that takes anything.
type docStream struct{ grpc.ServerStream }

func (docStream) Context() context.Context { return context.Background() }
func (docStream) Send(*pb.Doc) error       { return nil }

type docsPlugin struct {
	oneStore
	inst *recordingDocs
}

func (p docsPlugin) Configure(context.Context, Config) (Instance, error) { return p.inst, nil }

// A request without a document is refused before the store sees it; a
// limit beyond an int's reach is capped, a negative one passed on for the
// store to refuse.
func TestDocStoreServerHostileRequests(t *testing.T) {
	inst := &recordingDocs{}
	srv := newServer(docsPlugin{inst: inst})
	ctx := context.Background()
	r, err := srv.Configure(ctx, &pb.ConfigureRequest{Kind: KindCertStore, Instance: "a", ConfigJson: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Capabilities) != 1 || r.Capabilities[0] != wire.CapDocs {
		t.Fatalf("capabilities %q, want %q", r.Capabilities, wire.CapDocs)
	}
	ds := &docStoreServer{srv: srv}
	if _, err := ds.PutDoc(ctx, &pb.PutDocRequest{Instance: "a"}); !errors.Is(wire.FromStatus(err), ErrInvalidArgument) || inst.puts != 0 {
		t.Fatalf("PutDoc without a document: %v (store called %d times)", err, inst.puts)
	}
	if _, err := ds.PutDoc(ctx, &pb.PutDocRequest{Instance: "b", Doc: &pb.Doc{Kind: "k", Id: "i", Data: []byte(`{}`)}}); err == nil || inst.puts != 0 {
		t.Fatalf("PutDoc to an unconfigured instance: %v", err)
	}
	for _, c := range []struct{ sent, want int64 }{{0, 0}, {5, 5}, {-1, -1}, {1 << 40, docWireLimitCap}} {
		if err := ds.FindDocs(&pb.FindDocsRequest{Instance: "a", Kind: "k", Key: "x", Limit: c.sent}, docStream{}); err != nil {
			t.Fatal(err)
		}
		if int64(inst.limit) != c.want {
			t.Errorf("limit %d reached the store as %d, want %d", c.sent, inst.limit, c.want)
		}
	}
}
