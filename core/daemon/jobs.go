package daemon

import (
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/groupcommit"
	"github.com/pkid/pkid/core/jobs"
	"github.com/pkid/pkid/sdk"
)

// newRunner prepares the periodic jobs (each certstore's expiry sweep and
// the revocation publisher's CRL and OCSP work). They run on one node: the
// holder of the jobs lease of the first certstore (by name) that offers
// leases (sdk.Leaser: a store shared by several nodes), else this node
// alone, since a single-node store needs no lease.
func newRunner(l *catalog.Loaded, pub *publisher, log hclog.Logger) (*jobs.Runner, error) {
	var periodic []jobs.Job
	names := make([]string, 0, len(l.CertStores))
	for name, cs := range l.CertStores {
		j := jobs.ExpirySweep(cs, log, time.Hour)
		j.Name += ":" + name
		periodic = append(periodic, j)
		names = append(names, name)
	}
	periodic = append(periodic, pub.jobs()...)
	sort.Strings(names) // every node picks the same store
	for _, name := range names {
		src, ok := leaseSource(l.CertStores[name])
		if !ok {
			continue
		}
		r, err := jobs.NewLeased(src, jobs.DefaultLeaseName, periodic, log.With("lease_store", name), jobs.Options{})
		if err != nil {
			return nil, fmt.Errorf("serve: certstore %q: %w", name, err)
		}
		return r, nil
	}
	r, err := jobs.NewLocal(periodic, log)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return r, nil
}

// leaseSource returns cs as a lease source if it offers leases. An
// in-process store comes wrapped for group commit, which hides its
// optional interfaces: look through the wrapper.
func leaseSource(cs sdk.CertStore) (jobs.LeaseSource, bool) {
	for {
		if src, ok := cs.(jobs.LeaseSource); ok {
			return src, true
		}
		g, ok := cs.(*groupcommit.Store)
		if !ok {
			return nil, false
		}
		cs = g.CertStore
	}
}
