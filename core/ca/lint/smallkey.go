package lint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
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

// The search is a table lookup: the X coordinates (low 64 bits) of d*G
// for every 1 <= d <= 2^16, built once per curve and process, and a key is
// small exactly when its X is in the table (d*G and -d*G share X), which a
// scalar multiplication then confirms (the table keeps 64 bits of X). The
// table is built in blocks of 256 affine additions sharing one field
// inversion (Montgomery's trick): about 0.2 s of CPU for P-256 (about a
// second for P-521) once per process and curve, after which a key costs
// an on-curve check and a map lookup where zlint's walk costs eighteen
// big.Int affine additions.
const limit = 1 << smallKeyBits

// point is the part of filippo.io/nistec's point types the table uses.
type point[P any] interface {
	SetBytes([]byte) (P, error)
	Bytes() []byte
	BytesX() ([]byte, error)
	ScalarBaseMult([]byte) (P, error)
}

// curveSearch is one curve's table.
type curveSearch[P point[P]] struct {
	newPoint  func() P
	scalarLen int
	prime     *big.Int // the field prime
	once      sync.Once
	logByX    map[uint64]uint32
}

// mul returns d*G in affine coordinates.
func (c *curveSearch[P]) mul(d int64) (x, y *big.Int) {
	q, err := c.newPoint().ScalarBaseMult(c.scalar(d))
	if err != nil { // only for scalars of the wrong length
		panic(fmt.Sprintf("lint: small key table: %v", err))
	}
	b := q.Bytes() // 0x04 || X || Y; d*G is never infinity for 0 < d < n
	n := (len(b) - 1) / 2
	return new(big.Int).SetBytes(b[1 : 1+n]), new(big.Int).SetBytes(b[1+n:])
}

func (c *curveSearch[P]) scalar(d int64) []byte {
	s := make([]byte, c.scalarLen)
	binary.BigEndian.PutUint64(s[len(s)-8:], uint64(d))
	return s
}

func (c *curveSearch[P]) init() {
	c.once.Do(func() {
		const block = 256
		p := c.prime
		m := make(map[uint64]uint32, limit)
		// A_k = k*G for 0 < k < block, then d = block*b + k as Q_b + A_k
		// with Q_b = (block*b)*G: x3 = λ² - x1 - x2, λ = (y1-y2)/(x1-x2);
		// x1 != x2 as k < block*b.
		ax, ay := make([]*big.Int, block), make([]*big.Int, block)
		for k := 1; k < block; k++ {
			ax[k], ay[k] = c.mul(int64(k))
			m[ax[k].Uint64()] = uint32(k)
		}
		den, pre := make([]*big.Int, block), make([]*big.Int, block)
		inv, ik, lam, x3 := new(big.Int), new(big.Int), new(big.Int), new(big.Int)
		for b := 1; b*block <= limit; b++ {
			qx, qy := c.mul(int64(b * block))
			m[qx.Uint64()] = uint32(b * block)
			if b*block == limit {
				break
			}
			acc := big.NewInt(1)
			for k := 1; k < block; k++ {
				den[k] = new(big.Int).Sub(ax[k], qx)
				den[k].Mod(den[k], p)
				pre[k] = new(big.Int).Set(acc)
				acc.Mul(acc, den[k]).Mod(acc, p)
			}
			inv.ModInverse(acc, p)
			for k := block - 1; k >= 1; k-- {
				ik.Mul(inv, pre[k]).Mod(ik, p) // 1/den[k]
				inv.Mul(inv, den[k]).Mod(inv, p)
				lam.Sub(ay[k], qy).Mul(lam, ik).Mod(lam, p)
				x3.Mul(lam, lam).Sub(x3, ax[k]).Sub(x3, qx).Mod(x3, p)
				m[x3.Uint64()] = uint32(b*block + k)
			}
		}
		c.logByX = m
	})
}

// search returns d with 0 < d <= 2^16 and d*G = ±pub (uncompressed
// encoding), or 0; ok is false for a point not on the curve (zlint's
// CheckApplies: other lints judge malformed keys).
func (c *curveSearch[P]) search(uncompressed []byte) (d int64, ok bool) {
	if _, err := c.newPoint().SetBytes(uncompressed); err != nil {
		return 0, false
	}
	// SetBytes checked the point; its X is the encoding's, no inversion.
	x := uncompressed[1 : 1+(len(uncompressed)-1)/2]
	c.init()
	j, hit := c.logByX[binary.BigEndian.Uint64(x[len(x)-8:])]
	if !hit {
		return 0, true
	}
	q, err := c.newPoint().ScalarBaseMult(c.scalar(int64(j)))
	if err != nil {
		return 0, true
	}
	if qx, err := q.BytesX(); err == nil && string(qx) == string(x) {
		return int64(j), true
	}
	return 0, true
}

var (
	p224Search = &curveSearch[*nistec.P224Point]{newPoint: nistec.NewP224Point, scalarLen: 28, prime: elliptic.P224().Params().P}
	p256Search = &curveSearch[*nistec.P256Point]{newPoint: nistec.NewP256Point, scalarLen: 32, prime: elliptic.P256().Params().P}
	p384Search = &curveSearch[*nistec.P384Point]{newPoint: nistec.NewP384Point, scalarLen: 48, prime: elliptic.P384().Params().P}
	p521Search = &curveSearch[*nistec.P521Point]{newPoint: nistec.NewP521Point, scalarLen: 66, prime: elliptic.P521().Params().P}
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
