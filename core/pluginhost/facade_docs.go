package pluginhost

import (
	"context"
	"fmt"
	"slices"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// docs is the sdk.DocStore half of the view of a certstore whose instance
// keeps documents, as its plugin's adapter reported when it was
// configured. A restart that brought a build without documents makes its
// calls fail with sdk.ErrUnimplemented. Failed writes count for the
// certstore's health like its other writes.
type docs struct{ s *certStore }

// docStore is the instance's DocStore on the live connection c.
func (d docs) docStore(c *rpc.Client) (sdk.DocStore, error) {
	ds, ok := c.CertStore(d.s.name).(sdk.DocStore)
	if !ok {
		return nil, fmt.Errorf("certstore %q keeps no documents: %w", d.s.name, sdk.ErrUnimplemented)
	}
	return ds, nil
}

func (d docs) PutDoc(ctx context.Context, doc *sdk.Doc) (int64, error) {
	v, err := call(ctx, d.s.p, d.s.part, func(c *rpc.Client) (int64, error) {
		ds, err := d.docStore(c)
		if err != nil {
			return 0, err
		}
		return ds.PutDoc(ctx, doc)
	})
	d.s.noteWrite(err)
	return v, err
}

func (d docs) GetDoc(ctx context.Context, kind, id string) (*sdk.Doc, error) {
	return call(ctx, d.s.p, d.s.part, func(c *rpc.Client) (*sdk.Doc, error) {
		ds, err := d.docStore(c)
		if err != nil {
			return nil, err
		}
		return ds.GetDoc(ctx, kind, id)
	})
}

func (d docs) DeleteDoc(ctx context.Context, kind, id string, version int64) error {
	_, err := call(ctx, d.s.p, d.s.part, func(c *rpc.Client) (none, error) {
		ds, err := d.docStore(c)
		if err != nil {
			return none{}, err
		}
		return none{}, ds.DeleteDoc(ctx, kind, id, version)
	})
	d.s.noteWrite(err)
	return err
}

func (d docs) FindDocs(ctx context.Context, kind, key string, limit int, fn func(*sdk.Doc) error) error {
	_, err := call(ctx, d.s.p, d.s.part, func(c *rpc.Client) (none, error) {
		ds, err := d.docStore(c)
		if err != nil {
			return none{}, err
		}
		return none{}, ds.FindDocs(ctx, kind, key, limit, fn)
	})
	return err
}

// The views of a certstore that keeps documents, with and without leases.
type (
	docCertStore struct {
		*certStore
		docs
	}
	leasingDocCertStore struct {
		leasingCertStore
		docs
	}
)

// certStoreView returns the facade of s for the capabilities its instance
// reported: sdk.Leaser and sdk.DocStore when the instance implements them.
func certStoreView(s *certStore, caps []string) sdk.Instance {
	lease, keepsDocs := slices.Contains(caps, rpc.CapLease), slices.Contains(caps, rpc.CapDocs)
	switch {
	case lease && keepsDocs:
		return leasingDocCertStore{leasingCertStore{s}, docs{s}}
	case lease:
		return leasingCertStore{s}
	case keepsDocs:
		return docCertStore{s, docs{s}}
	}
	return s
}

var (
	_ sdk.DocStore    = docCertStore{}
	_ sdk.BatchPutter = docCertStore{}
	_ sdk.DocStore    = leasingDocCertStore{}
	_ sdk.Leaser      = leasingDocCertStore{}
	_ sdk.BatchPutter = leasingDocCertStore{}
)
