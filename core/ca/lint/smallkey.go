package lint

import (
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"math/big"
	"sync"

	"filippo.io/nistec"
	zx509 "github.com/zmap/zcrypto/x509"
	zl "github.com/zmap/zlint/v3/lint"
)

// smallKeyLint is the name of zlint's Community lint that looks for ECDSA
// keys whose private scalar d (or n-d) is at most 2^16. Linter runs the
// same search itself (smallScalar) when the lint is selected: zlint's
// implementation walks with crypto/elliptic's big.Int affine arithmetic,
// about a quarter of all issuance CPU; this one looks most keys up with
// no arithmetic at all and needs eight projective additions for the rest.
const smallKeyLint = "e_ecdsa_small_private_key"

// smallKeyBits is zlint's default search bound for smallKeyLint (its Bits
// setting; pkid never configures zlint lints).
const smallKeyBits = 16

// Baby-step giant-step as in zlint: a table of the X coordinates (low 64
// bits) of j*G for 1 <= j <= m, and giant steps of stride = 2m+1 from pub
// in both directions (pub - i*S finds pub = +d*G, pub + i*S finds
// pub = -d*G, as X(-pub - i*S) = X(pub + i*S)). Each step costs an affine
// conversion (a field inversion), and so does each table entry, once per
// curve and process. P-256, the common curve, gets m = 2^13 (about 0.15 s
// of CPU once, which every process that lints pays; four steps each way
// per key); the others keep zlint's
// m = 2^12, whose one-time table is all they can afford (P-521's field
// inversion is slow), with eight steps each way.
const limit = 1 << smallKeyBits

// point is the part of filippo.io/nistec's point types the search uses.
type point[P any] interface {
	SetGenerator() P
	Set(P) P
	Add(P, P) P
	Negate(P) P
	Double(P) P
	SetBytes([]byte) (P, error)
	BytesX() ([]byte, error)
	ScalarBaseMult([]byte) (P, error)
}

// curveSearch is one curve's table and giant step.
type curveSearch[P point[P]] struct {
	newPoint  func() P
	scalarLen int
	m         int64 // baby steps
	once      sync.Once
	logByX    map[uint64]uint32
	step      P // S = stride*G
}

func (c *curveSearch[P]) init() {
	c.once.Do(func() {
		c.logByX = make(map[uint64]uint32, c.m)
		g := c.newPoint().SetGenerator()
		p := c.newPoint().Set(g)
		for j := int64(1); j <= c.m; j++ {
			x, err := p.BytesX()
			if err != nil { // j*G is never infinity for j < n
				panic(fmt.Sprintf("lint: small key table: %v", err))
			}
			c.logByX[low64(x)] = uint32(j)
			if j < c.m {
				p.Add(p, g)
			}
		}
		// p = m*G; S = 2m*G + G.
		c.step = c.newPoint().Double(p)
		c.step.Add(c.step, g)
	})
}

// stride is the giant step's scalar, 2m+1: step i recognises
// d - i*stride in [-m, m], so the windows tile the line without gaps.
func (c *curveSearch[P]) stride() int64 { return 2*c.m + 1 }

// giantSteps is the number of steps each way that reach limit.
func (c *curveSearch[P]) giantSteps() int64 { return (limit + c.m + c.stride() - 1) / c.stride() }

// low64 is the low 64 bits of a big-endian coordinate (big.Int.Uint64).
func low64(x []byte) uint64 { return binary.BigEndian.Uint64(x[len(x)-8:]) }

// search returns d with 0 < d <= 2^16 and d*G = ±pub (uncompressed
// encoding), or 0; ok is false for a point not on the curve (zlint's
// CheckApplies: other lints judge malformed keys).
func (c *curveSearch[P]) search(uncompressed []byte) (d int64, ok bool) {
	pub, err := c.newPoint().SetBytes(uncompressed)
	if err != nil {
		return 0, false
	}
	x, err := pub.BytesX()
	if err != nil {
		return 0, false
	}
	c.init()
	return c.walk(pub, x), true
}

// walk is search on a valid point pub whose X coordinate is x.
func (c *curveSearch[P]) walk(pub P, x []byte) int64 {
	if d := c.candidates(x, x, 0); d != 0 {
		return d
	}
	negS := c.newPoint().Negate(c.step)
	down, up := c.newPoint().Set(pub), c.newPoint().Set(pub)
	for i := int64(1); i <= c.giantSteps(); i++ {
		down.Add(down, negS)
		up.Add(up, c.step)
		for _, p := range []P{down, up} {
			px, err := p.BytesX()
			if err != nil { // infinity: ±pub = i*S exactly
				if d := i * c.stride(); d <= limit {
					return d
				}
				continue
			}
			if d := c.candidates(px, x, i); d != 0 {
				return d
			}
		}
	}
	return 0
}

// candidates confirms a table hit for the point X = px reached after i
// giant steps from ±pub (X = pubX): d is i*stride ± j, checked by
// computing d*G (the table keeps 64 bits of X, and only one candidate is
// right).
func (c *curveSearch[P]) candidates(px, pubX []byte, i int64) int64 {
	j, ok := c.logByX[low64(px)]
	if !ok {
		return 0
	}
	for _, d := range [...]int64{i*c.stride() + int64(j), i*c.stride() - int64(j)} {
		if d <= 0 || d > limit {
			continue
		}
		scalar := make([]byte, c.scalarLen)
		binary.BigEndian.PutUint64(scalar[len(scalar)-8:], uint64(d))
		q, err := c.newPoint().ScalarBaseMult(scalar)
		if err != nil {
			continue
		}
		if qx, err := q.BytesX(); err == nil && string(qx) == string(pubX) {
			return d
		}
	}
	return 0
}

var (
	p224Search = &curveSearch[*nistec.P224Point]{newPoint: nistec.NewP224Point, scalarLen: 28, m: 1 << 12}
	p256Search = &curveSearch[*nistec.P256Point]{newPoint: nistec.NewP256Point, scalarLen: 32, m: 1 << 13}
	p384Search = &curveSearch[*nistec.P384Point]{newPoint: nistec.NewP384Point, scalarLen: 48, m: 1 << 12}
	p521Search = &curveSearch[*nistec.P521Point]{newPoint: nistec.NewP521Point, scalarLen: 66, m: 1 << 12}
)

// smallScalar returns d with 0 < d <= 2^16 such that pub = d*G or
// pub = -d*G, or nil: zlint's smallDiscreteLog for its default Bits. ok is
// false when pub is not a point of a NIST curve (P-224/256/384/521).
func smallScalar(pub *ecdsa.PublicKey) (d *big.Int, ok bool) {
	if pub == nil || pub.Curve == nil || pub.X == nil || pub.Y == nil {
		return nil, false
	}
	size := (pub.Curve.Params().BitSize + 7) / 8
	if pub.X.Sign() < 0 || pub.Y.Sign() < 0 || pub.X.BitLen() > 8*size || pub.Y.BitLen() > 8*size {
		return nil, false
	}
	enc := make([]byte, 1+2*size)
	enc[0] = 4
	pub.X.FillBytes(enc[1 : 1+size])
	pub.Y.FillBytes(enc[1+size:])
	var n int64
	switch pub.Curve.Params().Name {
	case "P-224":
		n, ok = p224Search.search(enc)
	case "P-256":
		n, ok = p256Search.search(enc)
	case "P-384":
		n, ok = p384Search.search(enc)
	case "P-521":
		n, ok = p521Search.search(enc)
	}
	if n == 0 {
		return nil, ok
	}
	return big.NewInt(n), ok
}

// smallKeyResult is smallKeyLint's result for c, worded as zlint words
// it: NA for certificates without a well-formed ECDSA key.
func smallKeyResult(c *zx509.Certificate) *zl.LintResult {
	d, ok := smallScalar(ecdsaKeyOf(c))
	if !ok {
		return &zl.LintResult{Status: zl.NA}
	}
	if d == nil {
		return &zl.LintResult{Status: zl.Pass}
	}
	return &zl.LintResult{
		Status:  zl.Error,
		Details: fmt.Sprintf("the ECDSA private key is %s, or its negation modulo the group order, and so can be trivially recovered by anyone", d),
	}
}

func ecdsaKeyOf(c *zx509.Certificate) *ecdsa.PublicKey {
	if c.PublicKeyAlgorithm != zx509.ECDSA {
		return nil
	}
	switch k := c.PublicKey.(type) {
	case *zx509.AugmentedECDSA:
		return k.Pub
	case *ecdsa.PublicKey:
		return k
	}
	return nil
}
