package ct

import (
	"context"
	"sync"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/config"
)

// LogListTTL is how long a resolved log list is used before it is read
// again.
const LogListTTL = time.Hour

// Source is core/ca's SCTSource: it resolves each profile's ct block once
// (again after LogListTTL when it has a log list) and submits through one
// Submitter, so circuit breakers span issuances.
type Source struct {
	sub *Submitter
	mu  sync.Mutex
	pol map[*config.CTPolicy]resolved
}

type resolved struct {
	p  *Policy
	at time.Time
}

var _ ca.SCTSource = (*Source)(nil)

// NewSource returns a Source submitting with a Submitter of o.
func NewSource(o Options) *Source {
	return &Source{sub: NewSubmitter(o), pol: map[*config.CTPolicy]resolved{}}
}

// Submitter returns the Source's submitter.
func (s *Source) Submitter() *Submitter { return s.sub }

// Policy resolves c (cached).
func (s *Source) Policy(ctx context.Context, c *config.CTPolicy) (*Policy, error) {
	s.mu.Lock()
	r, ok := s.pol[c]
	s.mu.Unlock()
	if ok && (c.LogList == "" || time.Since(r.at) < LogListTTL) {
		return r.p, nil
	}
	p, err := Resolve(ctx, c, s.sub.opts.Client)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.pol[c] = resolved{p: p, at: time.Now()}
	s.mu.Unlock()
	return p, nil
}

// SCTs implements ca.SCTSource: it submits the precertificate chain under
// policy and returns the verified SCTs as an embeddable list.
func (s *Source) SCTs(ctx context.Context, policy *config.CTPolicy, chain [][]byte) (*ca.SCTList, error) {
	p, err := s.Policy(ctx, policy)
	if err != nil {
		return nil, err
	}
	results, err := s.sub.Submit(ctx, p, Request{Chain: chain, Precert: true})
	if err != nil {
		return nil, err
	}
	return ListFrom(results)
}

// ListFrom encodes the verified SCTs of results.
func ListFrom(results []*Result) (*ca.SCTList, error) {
	out := &ca.SCTList{}
	var raws [][]byte
	for _, r := range results {
		if r.Err != nil || r.SCT == nil {
			continue
		}
		raws = append(raws, r.Raw)
		// The SCT's own log ID: a keyless log's is known only from it.
		id := r.SCT.LogID.KeyID
		out.SCTs = append(out.SCTs, ca.SCT{LogURL: r.Log.URL, LogID: id[:], Timestamp: timeOf(r.SCT.Timestamp), Raw: r.Raw})
	}
	enc, err := EncodeSCTList(raws)
	if err != nil {
		return nil, err
	}
	out.Encoded = enc
	return out, nil
}

func timeOf(ms uint64) time.Time { return time.UnixMilli(int64(ms)).UTC() }
