package lint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"filippo.io/nistec"
	"math/big"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"
)

// zlintSmallKey runs zlint's own e_ecdsa_small_private_key on der.
func zlintSmallKey(t testing.TB, der []byte) *zl.LintResult {
	t.Helper()
	reg, err := zl.GlobalRegistry().Filter(zl.FilterOptions{IncludeNames: []string{smallKeyLint}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	res := zlint.LintCertificateEx(c, reg).Results[smallKeyLint]
	if res == nil {
		t.Fatalf("zlint did not run %s", smallKeyLint)
	}
	return res
}

// keyWithScalar is the public key d*G (or (n-d)*G when negate).
func keyWithScalar(curve elliptic.Curve, d *big.Int, negate bool) *ecdsa.PublicKey {
	k := new(big.Int).Set(d)
	if negate {
		k.Sub(curve.Params().N, k)
	}
	x, y := curve.ScalarBaseMult(k.Bytes())
	return &ecdsa.PublicKey{Curve: curve, X: x, Y: y}
}

// TestSmallKeyMatchesZlint issues leaves for keys with tiny private
// scalars (which must fail), scalars just past the bound and random keys
// (which must pass), on every NIST curve, and checks that the Linter's
// search and zlint's own lint agree on status and details.
func TestSmallKeyMatchesZlint(t *testing.T) {
	ca := newRoot(t, "p256")
	l := mustNew(t, profileLint{})
	if l.smallKey == nil {
		t.Fatalf("%s is not in the default selection", smallKeyLint)
	}
	for _, lt := range l.lints {
		if lt.Name == smallKeyLint {
			t.Fatalf("%s would run twice", smallKeyLint)
		}
	}
	// The edges of the table and of the giant-step windows, and of the
	// searched range; each must fail exactly when it is at most 2^16.
	// The edges of the table's blocks and of the searched range; each
	// must fail exactly when it is at most 2^16.
	var mustFail, mustPass []int64
	for _, d := range []int64{1, 2, 3, 5, 200, 255, 256, 257, 511, 512, 513, 8191, 8192, 8193, 16385, 50000,
		limit - 257, limit - 256, limit - 255, limit - 1, limit, limit + 1, limit + 2, limit + 256, 100000, 1 << 20} {
		if d <= limit {
			mustFail = append(mustFail, d)
		} else {
			mustPass = append(mustPass, d)
		}
	}
	// P-521 is TestSmallKeyP521 (zlint's own P-521 table costs seconds).
	curves := []elliptic.Curve{elliptic.P256(), elliptic.P384()}
	if testing.Short() {
		curves = curves[:1]
	}
	for ci, curve := range curves {
		if ci > 0 {
			// The other curves share the code: their edges only.
			mustFail, mustPass = []int64{1, 256, 257, limit}, []int64{limit + 1}
		}
		for _, negate := range []bool{false, true} {
			check := func(d *big.Int, want zl.LintStatus) {
				t.Helper()
				pub := keyWithScalar(curve, d, negate)
				der := preIssue(t, leafTemplate(t, pub), ca, pub)
				zres := zlintSmallKey(t, der)
				if zres.Status != want {
					t.Fatalf("%s d=%v negated=%v: zlint says %s, the test expects %s", curve.Params().Name, d, negate, zres.Status, want)
				}
				rep, err := l.Lint(der)
				if err != nil {
					t.Fatal(err)
				}
				var got *Finding
				for i := range rep.Findings {
					if rep.Findings[i].Name == smallKeyLint {
						got = &rep.Findings[i]
					}
				}
				switch {
				case want == zl.Pass && got != nil:
					t.Errorf("%s d=%v negated=%v: unexpected finding %v", curve.Params().Name, d, negate, got)
				case want == zl.Error && got == nil:
					t.Errorf("%s d=%v negated=%v: no %s finding (zlint: %s)", curve.Params().Name, d, negate, smallKeyLint, zres.Details)
				case want == zl.Error && (got.Status != "error" || got.Details != zres.Details || got.Source != string(zl.Community)):
					t.Errorf("%s d=%v negated=%v: got %+v, zlint %s %q", curve.Params().Name, d, negate, *got, zres.Status, zres.Details)
				}
			}
			for _, d := range mustFail {
				check(big.NewInt(d), zl.Error)
			}
			for _, d := range mustPass {
				check(big.NewInt(d), zl.Pass)
			}
			k, err := ecdsa.GenerateKey(curve, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			check(k.D, zl.Pass)
		}
	}
}

// TestSmallKeyP521: the search on P-521 (66-byte scalars), at the edges.
func TestSmallKeyP521(t *testing.T) {
	c := elliptic.P521()
	for _, tc := range []struct {
		d    int64
		want int64
	}{{1, 1}, {3, 3}, {257, 257}, {limit, limit}, {limit + 1, 0}} {
		for _, negate := range []bool{false, true} {
			d, ok := smallScalar(keyWithScalar(c, big.NewInt(tc.d), negate))
			if !ok || (tc.want == 0) != (d == nil) || (d != nil && d.Int64() != tc.want) {
				t.Errorf("d=%d negated=%v: got %v, %v", tc.d, negate, d, ok)
			}
		}
	}
}

// TestSmallKeyRefusesIssuance: a small-scalar key fails the default
// linter, as zlint's lint made it before.
func TestSmallKeyRefusesIssuance(t *testing.T) {
	ca := newRoot(t, "p384")
	pub := keyWithScalar(elliptic.P256(), big.NewInt(7), false)
	rep, err := mustNew(t, profileLint{}).Lint(preIssue(t, leafTemplate(t, pub), ca, pub))
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err == nil {
		t.Fatal("a key with private scalar 7 was not refused")
	}
}

// TestSmallKeyNotApplicable: malformed and non-ECDSA keys are NA, as in
// zlint's CheckApplies.
func TestSmallKeyNotApplicable(t *testing.T) {
	c := elliptic.P256()
	for name, key := range map[string]*ecdsa.PublicKey{
		"off curve":     {Curve: c, X: big.NewInt(1), Y: big.NewInt(1)},
		"missing point": {Curve: c},
		"nil":           nil,
	} {
		cert := &zx509.Certificate{PublicKeyAlgorithm: zx509.ECDSA, PublicKey: key}
		if got := smallKeyResult(cert).Status; got != zl.NA {
			t.Errorf("%s: %s, want NA", name, got)
		}
	}
	if got := smallKeyResult(&zx509.Certificate{PublicKeyAlgorithm: zx509.RSA}).Status; got != zl.NA {
		t.Errorf("RSA: %s, want NA", got)
	}
}

// BenchmarkSmallKey compares the search with zlint's lint on a random
// P-256 key (the common case: both walks run to the end).
func BenchmarkSmallKey(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := newRoot(b, "p256")
	der := preIssue(b, leafTemplate(b, &k.PublicKey), ca, &k.PublicKey)
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	zlintLint := zl.GlobalRegistry().CertificateLints().ByName(smallKeyLint)
	cfg := zl.NewEmptyConfig()
	smallKeyResult(c) // the one-time table
	b.Run("pkid", func(b *testing.B) {
		for b.Loop() {
			if r := smallKeyResult(c); r.Status != zl.Pass {
				b.Fatal(r.Status)
			}
		}
	})
	b.Run("zlint", func(b *testing.B) {
		for b.Loop() {
			if r := zlintLint.Execute(c, cfg); r.Status != zl.Pass {
				b.Fatal(r.Status)
			}
		}
	})
}

// TestSmallKeyTable: the table maps the X of d*G (computed independently,
// by scalar multiplication) to d for the first scalars, every block edge
// (block*b + 0, 1, 255) and random scalars up to 2^16.
func TestSmallKeyTable(t *testing.T) {
	p256Search.init()
	if len(p256Search.logByX) != limit {
		t.Fatalf("%d entries, want %d", len(p256Search.logByX), limit)
	}
	var ds []int64
	for d := int64(1); d <= 600; d++ {
		ds = append(ds, d)
	}
	for b := int64(1); b*256 <= limit; b++ {
		ds = append(ds, b*256, b*256-1, min(b*256+1, limit))
	}
	for range 1000 {
		r, _ := rand.Int(rand.Reader, big.NewInt(limit))
		ds = append(ds, r.Int64()+1)
	}
	for _, d := range ds {
		x, _ := p256Search.mul(d)
		if got := p256Search.logByX[x.Uint64()]; int64(got) != d {
			t.Fatalf("d=%d: table says %d", d, got)
		}
	}
}

// BenchmarkSmallKeyTable is the one-time table of one curve.
func BenchmarkSmallKeyTable(b *testing.B) {
	for _, name := range []string{"P-256", "P-384", "P-521"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				switch name {
				case "P-256":
					(&curveSearch[*nistec.P256Point]{newPoint: nistec.NewP256Point, scalarLen: 32, prime: p256Search.prime}).init()
				case "P-384":
					(&curveSearch[*nistec.P384Point]{newPoint: nistec.NewP384Point, scalarLen: 48, prime: p384Search.prime}).init()
				case "P-521":
					(&curveSearch[*nistec.P521Point]{newPoint: nistec.NewP521Point, scalarLen: 66, prime: p521Search.prime}).init()
				}
			}
		})
	}
}
