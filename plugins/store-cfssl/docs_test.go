package storecfssl

import (
	"errors"
	"slices"
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
	"github.com/pkid/pkid/sdk/rpc"
)

// CFSSL's certdb has no table for documents and this store never alters
// the schema, so it keeps none: in process and through the gRPC adapters
// the instance is no sdk.DocStore, and sdk.DocStoreOf says
// ErrUnimplemented.
func TestNoDocStore(t *testing.T) {
	dbc := backends[0].newDB(t) // SQLite: the answer does not depend on the backend
	if _, err := sdk.DocStoreOf(openTest(t, dbc)); !errors.Is(err, sdk.ErrUnimplemented) {
		t.Errorf("in process: DocStoreOf = %v, want ErrUnimplemented", err)
	}
	c := plugintest.ServeGRPC(t, New())
	plugintest.Configure(t, c, sdk.KindCertStore, "main", blockJSON(dbc))
	if caps := c.Capabilities(sdk.KindCertStore, "main"); slices.Contains(caps, rpc.CapDocs) {
		t.Errorf("capabilities %q include %q", caps, rpc.CapDocs)
	}
	if _, err := sdk.DocStoreOf(c.CertStore("main")); !errors.Is(err, sdk.ErrUnimplemented) {
		t.Errorf("over gRPC: DocStoreOf = %v, want ErrUnimplemented", err)
	}
}
