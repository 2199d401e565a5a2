package lint

import (
	"testing"

	zl "github.com/zmap/zlint/v3/lint"
)

// BenchmarkLintP256Leaf lints a good P-256 leaf with the default sources;
// the registry is built once, outside the loop.
func BenchmarkLintP256Leaf(b *testing.B) {
	ca := newRoot(b, "p256")
	pub := testKey(b, "p256").Public()
	der := preIssue(b, leafTemplate(b, pub), ca, pub)
	l := mustNew(b, profileLint{})
	b.ReportAllocs()
	for b.Loop() {
		r, err := l.Lint(der)
		if err != nil || r.Err() != nil {
			b.Fatal(err, r.Err())
		}
	}
}

// BenchmarkPreIssuanceP256 makes the lint copy of a P-256 leaf under a
// P-256 issuer (throwaway key cached).
func BenchmarkPreIssuanceP256(b *testing.B) {
	benchPre(b, "p256")
}

// BenchmarkPreIssuanceRSA makes the lint copy under an RSA-3072 issuer
// (throwaway RSA-2048 key cached).
func BenchmarkPreIssuanceRSA(b *testing.B) {
	benchPre(b, "rsa3072")
}

func benchPre(b *testing.B, caKind string) {
	ca := newRoot(b, caKind)
	pub := testKey(b, "p256").Public()
	tmpl := leafTemplate(b, pub)
	if _, err := PreIssuance(tmpl, ca.cert, pub, ca.key.Public()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PreIssuance(tmpl, ca.cert, pub, ca.key.Public()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewCached is New for an already-built configuration.
func BenchmarkNewCached(b *testing.B) {
	mustNew(b, profileLint{})
	b.ReportAllocs()
	for b.Loop() {
		mustNew(b, profileLint{})
	}
}

// BenchmarkNewUncached is the registry filtering New caches.
func BenchmarkNewUncached(b *testing.B) {
	include, err := resolveSources(DefaultSources)
	if err != nil {
		b.Fatal(err)
	}
	ignored := withSignatureLints(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := zl.GlobalRegistry().Filter(zl.FilterOptions{IncludeSources: include, ExcludeNames: ignored}); err != nil {
			b.Fatal(err)
		}
	}
}
