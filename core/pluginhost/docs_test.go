package pluginhost_test

import (
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// The host's view of store-sqlite keeps documents out of process and in
// process, and passes the DocStore kit through the facade.
func TestFacadeDocStore(t *testing.T) {
	for _, inprocess := range []bool{false, true} {
		mode := map[bool]string{false: "process", true: "inprocess"}[inprocess]
		t.Run(mode, func(t *testing.T) {
			h := newHost(t)
			plugintest.TestDocStore(t, func(t *testing.T) sdk.DocStore {
				cs := openCertStore(t, h, inprocess)
				if _, ok := cs.(sdk.BatchPutter); !ok && !inprocess {
					t.Fatal("the documents view lost sdk.BatchPutter")
				}
				ds, err := sdk.DocStoreOf(cs)
				if err != nil {
					t.Fatal(err)
				}
				return ds
			})
		})
	}
}
