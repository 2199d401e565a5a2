package daemon

import (
	"context"
	"testing"

	"github.com/pkid/pkid/core/groupcommit"
	"github.com/pkid/pkid/sdk"
)

// stores with and without the optional interfaces; nothing calls their
// CertStore methods.
type (
	plainStore   struct{ sdk.CertStore }
	batchStore   struct{ plainStore }
	leasingStore struct{ batchStore }
)

func (batchStore) PutBatch(context.Context, []*sdk.CertRecord) ([]error, error) { return nil, nil }
func (leasingStore) Lease(context.Context, sdk.LeaseRequest) (sdk.Lease, error) {
	return nil, sdk.ErrHeld
}

// The daemon finds a store's leases also behind the group-commit wrapper
// of an in-process store (isolation = "inprocess" store-postgres).
func TestLeaseSource(t *testing.T) {
	for _, c := range []struct {
		name string
		cs   sdk.CertStore
		want bool
	}{
		{"no leases", plainStore{}, false},
		{"no leases, group-committed", groupcommit.Wrap(batchStore{}), false},
		{"leases", leasingStore{}, true},
		{"leases, group-committed", groupcommit.Wrap(leasingStore{}), true},
	} {
		if _, ok := leaseSource(c.cs); ok != c.want {
			t.Errorf("%s: offers leases %v, want %v", c.name, ok, c.want)
		}
	}
}
