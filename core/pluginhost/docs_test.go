package pluginhost_test

import (
	"testing"

	"github.com/pkid/pkid/internal/pgtest"
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

// Two nodes, each with its own host and store-postgres plugin process, on
// one database: the shared-state kit through the host's facades.
func TestFacadeDocStoreTwoProcesses(t *testing.T) {
	cluster := pgtest.New(t)
	plugintest.TestDocStoreShared(t, func(t *testing.T) (sdk.DocStore, sdk.DocStore) {
		dsn := cluster.NewDatabase(t)
		var out [2]sdk.DocStore
		for i := range out {
			_, cs := openPostgres(t, dsn)
			if _, ok := cs.(sdk.Leaser); !ok {
				t.Fatal("the postgres view with documents lost sdk.Leaser")
			}
			ds, err := sdk.DocStoreOf(cs)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = ds
		}
		return out[0], out[1]
	})
}
