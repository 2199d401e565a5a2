package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"time"
)

// builder enumerates candidate chains for one request: depth-first from
// the leaf through every certificate whose subject is the tip's issuer
// (pool intermediates, the caller's certificates, AIA downloads) until a
// pool root, bounded by Limits.
type builder struct {
	pool     *Pool
	extra    map[string][]*x509.Certificate // RawSubject -> caller's and fetched certs
	seen     map[[32]byte]bool              // extra certificates already indexed
	lim      Limits
	sigCache map[sigKey]bool
	checks   int
	out      [][]*x509.Certificate
	deadEnds []*x509.Certificate // tips with no issuer found (for AIA)
}

type sigKey struct{ child, parent [32]byte }

func newBuilder(p *Pool, lim Limits) *builder {
	return &builder{pool: p, extra: map[string][]*x509.Certificate{}, seen: map[[32]byte]bool{},
		lim: lim, sigCache: map[sigKey]bool{}}
}

// add offers a certificate the caller supplied or AIA returned as an
// intermediate for this request only. It reports whether it was new.
func (b *builder) add(c *x509.Certificate) bool {
	h := sha256.Sum256(c.Raw)
	if b.seen[h] {
		return false
	}
	if _, inPool := b.pool.byHash[h]; inPool {
		return false
	}
	b.seen[h] = true
	b.extra[string(c.RawSubject)] = append(b.extra[string(c.RawSubject)], c)
	return true
}

// issuers returns the possible issuers of c: the pool's and the request's
// certificates named by c's issuer, those whose key identifier matches
// c's authority key identifier first (as Go orders them).
type cand struct {
	cert *x509.Certificate
	root bool
}

func (b *builder) issuers(c *x509.Certificate) []cand {
	var match, rest []cand
	put := func(cd cand) {
		if len(c.AuthorityKeyId) > 0 && len(cd.cert.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, cd.cert.SubjectKeyId) {
			rest = append(rest, cd)
			return
		}
		match = append(match, cd)
	}
	for _, pc := range b.pool.bySubject[string(c.RawIssuer)] {
		put(cand{pc.cert, pc.root})
	}
	for _, x := range b.extra[string(c.RawIssuer)] {
		put(cand{x, false})
	}
	return append(match, rest...)
}

func (b *builder) signedBy(child, parent *x509.Certificate) bool {
	k := sigKey{sha256.Sum256(child.Raw), sha256.Sum256(parent.Raw)}
	if ok, done := b.sigCache[k]; done {
		return ok
	}
	_, childInPool := b.pool.byHash[k.child]
	_, parentInPool := b.pool.byHash[k.parent]
	shared := childInPool && parentInPool
	if shared {
		if ok, done := b.pool.sigs.Load(k); done {
			return ok.(bool)
		}
	}
	if b.checks >= b.lim.MaxSigChecks {
		return false
	}
	b.checks++
	ok := child.CheckSignatureFrom(parent) == nil
	b.sigCache[k] = ok
	if shared {
		b.pool.sigs.Store(k, ok)
	}
	return ok
}

// build fills b.out with every candidate chain from leaf, within limits.
func (b *builder) build(ctx context.Context, leaf *x509.Certificate) error {
	b.out, b.deadEnds = nil, nil
	return b.walk(ctx, []*x509.Certificate{leaf})
}

func (b *builder) walk(ctx context.Context, path []*x509.Certificate) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tip := path[len(path)-1]
	found := false
	for _, cd := range b.issuers(tip) {
		if len(b.out) >= b.lim.MaxCandidates {
			return nil
		}
		if inPath(path, cd.cert) || !b.signedBy(tip, cd.cert) {
			continue
		}
		found = true
		next := append(path[:len(path):len(path)], cd.cert)
		if cd.root {
			b.out = append(b.out, next)
			continue
		}
		if depth(next) >= b.lim.MaxDepth || len(next) >= 2*b.lim.MaxDepth {
			continue
		}
		if err := b.walk(ctx, next); err != nil {
			return err
		}
	}
	if !found {
		b.deadEnds = append(b.deadEnds, tip)
	}
	return nil
}

// depth is the chain's length as path length constraints count it: a
// self-issued intermediate (a key rollover) does not count (RFC 5280
// 4.2.1.9); the absolute length is capped separately.
func depth(path []*x509.Certificate) int {
	n := len(path)
	for _, c := range path[1:] {
		if bytes.Equal(c.RawSubject, c.RawIssuer) {
			n--
		}
	}
	return n
}

// inPath reports whether c, or a certificate with c's subject and key (a
// re-issue or cross-sign of the same CA), is already in path: going
// through the same CA twice only makes loops.
func inPath(path []*x509.Certificate, c *x509.Certificate) bool {
	for _, p := range path {
		if bytes.Equal(p.RawSubject, c.RawSubject) && bytes.Equal(p.RawSubjectPublicKeyInfo, c.RawSubjectPublicKeyInfo) {
			return true
		}
	}
	return false
}

// validChains returns the candidate chains that Go's verifier accepts
// using only each chain's own certificates, chasing AIA when no chain
// reaches a root; fetched lists the AIA downloads. With none valid it
// returns the error CFSSL would give (Go's verifier over the whole pool).
func (bd *Bundler) validChains(ctx context.Context, input []*x509.Certificate, req Request, now time.Time, lim Limits) (chains [][]*x509.Certificate, fetched []*x509.Certificate, err error) {
	b := newBuilder(bd.pool(), lim)
	for _, c := range input[1:] {
		b.add(c)
	}
	leaf := input[0]
	fetches := 0
	var ruleErr error // the first of the bundler's own rules a chain broke
	tried := map[string]bool{}
	for {
		if err := b.build(ctx, leaf); err != nil {
			return nil, nil, err
		}
		for _, ch := range b.out {
			ok, rule := verifyAlone(ch, req, now)
			if ok {
				chains = append(chains, ch)
			} else if rule != nil && ruleErr == nil {
				ruleErr = rule
			}
		}
		if len(chains) > 0 || bd.Fetcher == nil || fetches >= lim.MaxFetches {
			break
		}
		// No chain: fetch the issuers the dead ends name, then retry.
		added := false
		for _, tip := range b.deadEnds {
			for _, url := range tip.IssuingCertificateURL {
				if tried[url] || fetches >= lim.MaxFetches {
					continue
				}
				tried[url] = true
				fetches++
				certs, ferr := bd.Fetcher.Fetch(ctx, url)
				if ferr != nil {
					if ctx.Err() != nil {
						return nil, nil, ctx.Err()
					}
					continue
				}
				for _, c := range certs {
					if c != nil && b.add(c) {
						fetched = append(fetched, c)
						added = true
					}
				}
			}
		}
		if !added {
			break
		}
	}
	if len(chains) == 0 {
		return nil, nil, bd.explain(input, fetched, req, now, ruleErr)
	}
	return chains, fetched, nil
}

// verifyAlone runs Go's verifier on chain with only its own certificates
// and accepts it when one of the chains Go returns is exactly chain.
func verifyAlone(chain []*x509.Certificate, req Request, now time.Time) (bool, error) {
	// The bundler's own rules first: one of them bounds the work Go's
	// verifier would do on hostile name constraints.
	if err := extraChecks(chain, req, now); err != nil {
		return false, err
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(chain[len(chain)-1])
	for _, c := range chain[1 : len(chain)-1] {
		inter.AddCert(c)
	}
	usages := req.KeyUsages
	if usages == nil {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	got, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: usages})
	if err != nil {
		return false, nil
	}
	for _, g := range got {
		if sameChain(g, chain) {
			return true, nil
		}
	}
	return false, nil
}

func sameChain(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Raw, b[i].Raw) {
			return false
		}
	}
	return true
}

// explain gives the error for a request with no valid chain: Go's
// verifier over the whole pool and the request's certificates, so the
// code is the one CFSSL sends for the same input.
func (bd *Bundler) explain(input, fetched []*x509.Certificate, req Request, now time.Time, ruleErr error) error {
	if errors.Is(ruleErr, errBudget) {
		// Do not hand Go's verifier the hostile input the budget refused.
		return verifyError(ruleErr)
	}
	roots, inter := bd.pool().goPools()
	inter = inter.Clone()
	for _, c := range input[1:] {
		inter.AddCert(c)
	}
	for _, c := range fetched {
		inter.AddCert(c)
	}
	usages := req.KeyUsages
	if usages == nil {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	_, err := input[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: usages})
	if err == nil {
		// Go found a chain that the bundler's rules or limits refused.
		err = ruleErr
		if err == nil {
			err = errors.New("x509: no chain within the bundler's limits")
		}
	}
	return verifyError(err)
}
