package bundle

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"time"
)

// Hash ranks: what a platform can verify and how a chain is scored.
const (
	hashWeak = iota // MD2, MD5, unknown
	hashSHA1
	hashSHA2
)

// Key ranks, in the order platform metadata names them (RSA < ECDSA256 <
// ECDSA384 < ECDSA521); Ed25519 is past every metadata level.
const (
	keyWeak = iota // RSA under 1024 bits, DSA, unknown curves
	keyRSA
	keyP256
	keyP384
	keyP521
	keyEd25519
)

func hashRank(c *x509.Certificate) int {
	switch c.SignatureAlgorithm {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
		return hashSHA1
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
		x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS,
		x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512,
		x509.DSAWithSHA256, x509.PureEd25519:
		return hashSHA2
	}
	return hashWeak
}

func keyRank(c *x509.Certificate) int {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() >= 1024 {
			return keyRSA
		}
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return keyP256
		case 384:
			return keyP384
		case 521:
			return keyP521
		}
	case ed25519.PublicKey:
		return keyEd25519
	}
	return keyWeak
}

// keySecurity is a key's strength in bits of security (NIST SP 800-57).
func keySecurity(c *x509.Certificate) int {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		switch n := k.N.BitLen(); {
		case n >= 15360:
			return 256
		case n >= 7680:
			return 192
		case n >= 3072:
			return 128
		case n >= 2048:
			return 112
		case n >= 1024:
			return 80
		}
	case *ecdsa.PublicKey:
		return k.Curve.Params().BitSize / 2
	case ed25519.PublicKey:
		return 128
	}
	return 0
}

// hashSecurity is the collision strength of a signature's hash in bits.
func hashSecurity(c *x509.Certificate) int {
	switch c.SignatureAlgorithm {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
		return 63
	case x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.ECDSAWithSHA256, x509.DSAWithSHA256:
		return 128
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		return 192
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512, x509.PureEd25519:
		return 256
	}
	return 0
}

// belowRoot is the chain without its self-signed root: a root's own
// signature is never checked by a client, so its hash does not count.
func belowRoot(chain []*x509.Certificate) []*x509.Certificate {
	if len(chain) > 1 {
		return chain[:len(chain)-1]
	}
	return chain
}

// platformWeight sums the weights of the platforms that trust the chain:
// its root is in their store and they verify every hash below the root
// and every key in it.
func (p *Pool) platformWeight(chain []*x509.Certificate) int {
	root := chain[len(chain)-1]
	needHash, needKey := hashWeak, keyWeak
	for _, c := range belowRoot(chain) {
		needHash = max(needHash, hashRank(c))
	}
	for _, c := range chain {
		needKey = max(needKey, keyRank(c))
	}
	w := 0
	for i := range p.platforms {
		pl := &p.platforms[i]
		if pl.trusts(root) && needHash <= pl.hashMax && needKey <= pl.keyMax {
			w += pl.weight
		}
	}
	return w
}

// sha2Homogeneous: a SHA-2 leaf is not let down by a SHA-1 intermediate.
func sha2Homogeneous(chain []*x509.Certificate) int {
	if hashRank(chain[0]) != hashSHA2 {
		return 1
	}
	for _, c := range belowRoot(chain) {
		if hashRank(c) != hashSHA2 {
			return 0
		}
	}
	return 1
}

// hashUbiquity is the weakest hash below the root (SHA-2 is not
// penalised; SHA-1 and weaker are).
func hashUbiquity(chain []*x509.Certificate) int {
	m := hashSHA2
	for _, c := range belowRoot(chain) {
		m = min(m, hashRank(c))
	}
	return m
}

// keyUbiquity: RSA, P-256 and P-384 are verified everywhere that matters
// (2); P-521 and Ed25519 are not (1); weak keys 0. The chain's score is
// its least ubiquitous key.
func keyUbiquity(chain []*x509.Certificate) int {
	m := 2
	for _, c := range chain {
		switch keyRank(c) {
		case keyRSA, keyP256, keyP384:
		case keyP521, keyEd25519:
			m = min(m, 1)
		default:
			m = 0
		}
	}
	return m
}

// saneLifetimes counts certificates whose validity is within what the
// CA/Browser Forum allowed when they were issued (120 months before July
// 2012, 60 until April 2015, 39 since): an overlong one is a misissue that
// some clients reject.
func saneLifetimes(chain []*x509.Certificate) int {
	n := 0
	for _, c := range belowRoot(chain) {
		limit := 39
		switch {
		case c.NotBefore.Before(time.Date(2012, time.July, 1, 0, 0, 0, 0, time.UTC)):
			limit = 120
		case c.NotBefore.Before(time.Date(2015, time.April, 1, 0, 0, 0, 0, time.UTC)):
			limit = 60
		}
		months := (c.NotAfter.Year()-c.NotBefore.Year())*12 + int(c.NotAfter.Month()) - int(c.NotBefore.Month())
		if months <= limit {
			n++
		}
	}
	return n
}

func earliestExpiry(chain []*x509.Certificate) time.Time {
	t := chain[0].NotAfter
	for _, c := range chain[1:] {
		if c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}

// strength compares crypto: the weakest key, then the weakest hash below
// the root, then the sum of key strengths.
func strength(chain []*x509.Certificate) [3]int {
	minKey, minHash, sum := 1<<30, 1<<30, 0
	for _, c := range chain {
		k := keySecurity(c)
		minKey = min(minKey, k)
		sum += k
	}
	for _, c := range belowRoot(chain) {
		minHash = min(minHash, hashSecurity(c))
	}
	return [3]int{minKey, minHash, sum}
}

// keep returns the chains with the best score (higher is better).
func keep(chains [][]*x509.Certificate, score func([]*x509.Certificate) int) [][]*x509.Certificate {
	best, out := 0, chains[:0:0]
	for i, c := range chains {
		s := score(c)
		switch {
		case i == 0 || s > best:
			best, out = s, append(out[:0], c)
		case s == best:
			out = append(out, c)
		}
	}
	return out
}

func optimalFilters(chains [][]*x509.Certificate, now time.Time) [][]*x509.Certificate {
	chains = keep(chains, func(c []*x509.Certificate) int { return -len(c) })
	chains = keep(chains, func(c []*x509.Certificate) int { return int(earliestExpiry(c).Sub(now) / time.Second) })
	for i := 0; i < 3; i++ {
		chains = keep(chains, func(c []*x509.Certificate) int { return strength(c)[i] })
	}
	return chains
}

// chooseOptimal: shortest, then latest earliest expiry, then strongest.
// Ties keep the first candidate built (pool order), so the choice is
// deterministic.
func chooseOptimal(chains [][]*x509.Certificate, now time.Time) []*x509.Certificate {
	return optimalFilters(chains, now)[0]
}

// chooseUbiquitous: most trusting platform weight, SHA-2 homogeneity,
// shorter, hash then key ubiquity, sane lifetimes, then optimal.
func (b *Bundler) chooseUbiquitous(chains [][]*x509.Certificate, now time.Time) []*x509.Certificate {
	chains = keep(chains, b.pool().platformWeight)
	chains = keep(chains, sha2Homogeneous)
	chains = keep(chains, func(c []*x509.Certificate) int { return -len(c) })
	chains = keep(chains, hashUbiquity)
	chains = keep(chains, keyUbiquity)
	chains = keep(chains, saneLifetimes)
	return optimalFilters(chains, now)[0]
}
