package pluginhost

import (
	"errors"
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// The certstore view implements exactly the optional interfaces whose
// capabilities the instance reported; sdk.DocStoreOf refuses one without
// documents with ErrUnimplemented.
func TestCertStoreView(t *testing.T) {
	s := &certStore{name: "main", part: part{sdk.KindCertStore, "main"}}
	for _, c := range []struct {
		caps        []string
		lease, docs bool
	}{
		{nil, false, false},
		{[]string{rpc.CapPutBatch}, false, false},
		{[]string{rpc.CapLease}, true, false},
		{[]string{rpc.CapDocs}, false, true},
		{[]string{rpc.CapLease, rpc.CapDocs}, true, true},
	} {
		v := certStoreView(s, c.caps)
		_, isCS := v.(sdk.CertStore)
		_, isBatch := v.(sdk.BatchPutter)
		_, isLease := v.(sdk.Leaser)
		ds, err := sdk.DocStoreOf(v)
		if !isCS || !isBatch || isLease != c.lease || (ds != nil) != c.docs {
			t.Errorf("caps %q: certstore %v, batch %v, leaser %v, docstore %v", c.caps, isCS, isBatch, isLease, ds != nil)
		}
		if !c.docs && !errors.Is(err, sdk.ErrUnimplemented) {
			t.Errorf("caps %q: DocStoreOf = %v, want ErrUnimplemented", c.caps, err)
		}
	}
}

// After a restart that brought a build without documents, the connection
// reports no capability, and the view's calls say ErrUnimplemented.
func TestDocsLostOnRestart(t *testing.T) {
	d := docs{s: &certStore{name: "main", part: part{sdk.KindCertStore, "main"}}}
	fresh := rpc.NewClient(nil) // configured nothing: no capabilities; no call is made
	if _, err := d.docStore(fresh); !errors.Is(err, sdk.ErrUnimplemented) {
		t.Fatalf("docStore on a connection without the capability: %v, want ErrUnimplemented", err)
	}
}
