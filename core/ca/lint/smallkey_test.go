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
	edges := func(m int64) (mustFail, mustPass []int64) {
		stride := 2*m + 1
		for _, d := range []int64{1, 2, 3, 5, 200, m - 1, m, m + 1, stride - 1, stride, stride + 1, 2 * stride, 3*stride - m,
			50000, limit - 1, limit, limit + 1, limit + 2, 100000, 1 << 20} {
			if d <= limit {
				mustFail = append(mustFail, d)
			} else {
				mustPass = append(mustPass, d)
			}
		}
		return mustFail, mustPass
	}
	curves := []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()}
	if testing.Short() {
		curves = curves[:1]
	}
	for _, curve := range curves {
		m := p256Search.m
		if curve != elliptic.P256() {
			m = p384Search.m
		}
		mustFail, mustPass := edges(m)
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

// BenchmarkSmallKeyTable is the one-time table of one curve.
func BenchmarkSmallKeyTable(b *testing.B) {
	for _, name := range []string{"P-256", "P-384", "P-521"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				switch name {
				case "P-256":
					(&curveSearch[*nistec.P256Point]{newPoint: nistec.NewP256Point, scalarLen: 32, m: p256Search.m}).init()
				case "P-384":
					(&curveSearch[*nistec.P384Point]{newPoint: nistec.NewP384Point, scalarLen: 48, m: p384Search.m}).init()
				case "P-521":
					(&curveSearch[*nistec.P521Point]{newPoint: nistec.NewP521Point, scalarLen: 66, m: p521Search.m}).init()
				}
			}
		})
	}
}
