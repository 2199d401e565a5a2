package bundle

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/pkid/pkid/sdk"
)

// Pool is the bundler's trust material: roots (anchors), intermediates
// offered for path building, and the client platforms that weigh a
// chain's ubiquity. It is immutable once built and safe for concurrent
// use; a changed trust source builds a new Pool.
type Pool struct {
	roots     []*x509.Certificate
	inters    []*x509.Certificate
	bySubject map[string][]*poolCert // RawSubject -> certificates with that subject
	byHash    map[[32]byte]*poolCert
	platforms []platform

	// sigs caches signature checks between two pool certificates
	// (sigKey -> bool): both are immutable, so every request can reuse
	// them.
	sigs sync.Map

	// goPool is built on first need (error reporting only): CFSSL's error
	// codes come from Go's verifier run over the whole pool.
	goOnce  sync.Once
	goRoots *x509.CertPool
	goInter *x509.CertPool
}

type poolCert struct {
	cert   *x509.Certificate
	root   bool
	source string
}

// platform is an sdk.Platform with its algorithms ranked and its roots
// in a set.
type platform struct {
	name     string
	weight   int
	hashMax  int // hashRank of the strongest hash it verifies
	keyMax   int // keyRank of the strongest key it verifies
	allRoots bool
	roots    map[string]bool
}

// NewPool indexes certs and platforms. A certificate offered both as a
// root and as an intermediate is a root. Platform roots are SHA-1 hashes
// (lowercase hex) of a root's SubjectPublicKeyInfo, as CFSSL's metadata
// keystores are matched; a SHA-1 of the whole certificate is accepted
// too. Errors: *Error with CodeRoot or CodeIntermediates for a DER that
// does not parse; a plain error for a platform with an unknown algorithm
// or a negative weight.
func NewPool(certs []sdk.TrustCert, platforms []sdk.Platform) (*Pool, error) {
	p := &Pool{bySubject: map[string][]*poolCert{}, byHash: map[[32]byte]*poolCert{}}
	for i := range certs {
		tc := &certs[i]
		c, err := x509.ParseCertificate(tc.DER)
		if err != nil {
			code, what := CodeIntermediates, "intermediate"
			if tc.Root {
				code, what = CodeRoot, "root"
			}
			return nil, &Error{Code: code, Msg: fmt.Sprintf("bundle: %s certificate %d from %q does not parse", what, i, tc.Source), Err: err}
		}
		h := sha256.Sum256(c.Raw)
		if old, ok := p.byHash[h]; ok {
			if tc.Root && !old.root {
				old.root = true
				old.source = tc.Source
			}
			continue
		}
		pc := &poolCert{cert: c, root: tc.Root, source: tc.Source}
		p.byHash[h] = pc
		p.bySubject[string(c.RawSubject)] = append(p.bySubject[string(c.RawSubject)], pc)
	}
	for _, pc := range p.byHash {
		if pc.root {
			p.roots = append(p.roots, pc.cert)
		} else {
			p.inters = append(p.inters, pc.cert)
		}
	}
	for _, sp := range platforms {
		pl, err := newPlatform(sp)
		if err != nil {
			return nil, err
		}
		p.platforms = append(p.platforms, pl)
	}
	return p, nil
}

func newPlatform(sp sdk.Platform) (platform, error) {
	pl := platform{name: sp.Name, weight: sp.Weight, allRoots: sp.AllRoots, roots: map[string]bool{}}
	if sp.Weight < 0 {
		return pl, fmt.Errorf("bundle: platform %q: negative weight %d", sp.Name, sp.Weight)
	}
	switch sp.HashAlgo {
	case "SHA1":
		pl.hashMax = hashSHA1
	case "SHA2", "":
		pl.hashMax = hashSHA2
	default:
		return pl, fmt.Errorf("bundle: platform %q: unknown hash_algo %q (SHA1, SHA2)", sp.Name, sp.HashAlgo)
	}
	switch sp.KeyAlgo {
	case "RSA":
		pl.keyMax = keyRSA
	case "ECDSA256":
		pl.keyMax = keyP256
	case "ECDSA384":
		pl.keyMax = keyP384
	case "ECDSA521", "":
		pl.keyMax = keyP521
	default:
		return pl, fmt.Errorf("bundle: platform %q: unknown key_algo %q (RSA, ECDSA256, ECDSA384, ECDSA521)", sp.Name, sp.KeyAlgo)
	}
	for _, r := range sp.Roots {
		pl.roots[strings.ToLower(strings.ReplaceAll(r, ":", ""))] = true
	}
	return pl, nil
}

// trusts reports whether the platform's store holds root.
func (pl *platform) trusts(root *x509.Certificate) bool {
	if pl.allRoots {
		return true
	}
	spki := sha1.Sum(root.RawSubjectPublicKeyInfo)
	if pl.roots[hex.EncodeToString(spki[:])] {
		return true
	}
	whole := sha1.Sum(root.Raw)
	return pl.roots[hex.EncodeToString(whole[:])]
}

// Roots returns the number of roots and intermediates in the pool.
func (p *Pool) Len() (roots, intermediates int) { return len(p.roots), len(p.inters) }

// Platforms returns the names of the pool's platforms in order.
func (p *Pool) Platforms() []string {
	out := make([]string, len(p.platforms))
	for i := range p.platforms {
		out[i] = p.platforms[i].name
	}
	return out
}

func (p *Pool) isRoot(c *x509.Certificate) bool {
	pc, ok := p.byHash[sha256.Sum256(c.Raw)]
	return ok && pc.root
}

func (p *Pool) goPools() (*x509.CertPool, *x509.CertPool) {
	p.goOnce.Do(func() {
		p.goRoots, p.goInter = x509.NewCertPool(), x509.NewCertPool()
		for _, c := range p.roots {
			p.goRoots.AddCert(c)
		}
		for _, c := range p.inters {
			p.goInter.AddCert(c)
		}
	})
	return p.goRoots, p.goInter
}

// emptyPool stands in for a Bundler without a Pool: nothing is trusted,
// so only force bundles succeed.
var emptyPool = &Pool{bySubject: map[string][]*poolCert{}, byHash: map[[32]byte]*poolCert{}}

func (b *Bundler) pool() *Pool {
	if b.Pool == nil {
		return emptyPool
	}
	return b.Pool
}
