package bundle

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
)

// benchWorld: 150 roots, 500 intermediates spread over them, a leaf under
// one intermediate (a 3-certificate chain), three weighted platforms, and
// the same material as CFSSL's files.
type benchWorld struct {
	leaf     *x509.Certificate
	in       *cfsslInputs
	leafFile string
}

var (
	benchOnce sync.Once
	benchW    *benchWorld
)

func loadBenchWorld(b *testing.B) *benchWorld {
	benchOnce.Do(func() {
		var roots, inters []*node
		for i := 0; i < 150; i++ {
			roots = append(roots, issue(b, certSpec{cn: fmt.Sprintf("Bench Root %d", i), org: "Bench", ca: true,
				notAfter: time.Now().Add(10 * 365 * 24 * time.Hour).Truncate(time.Second)}, nil))
		}
		for i := 0; i < 500; i++ {
			inters = append(inters, issue(b, certSpec{cn: fmt.Sprintf("Bench Issuing CA %d", i), org: "Bench", ca: true,
				notAfter: time.Now().Add(5 * 365 * 24 * time.Hour).Truncate(time.Second)}, roots[i%len(roots)]))
		}
		leaf := issue(b, certSpec{cn: "www.bench.example", dns: []string{"www.bench.example"}}, inters[77])
		var rc, ic []*x509.Certificate
		for _, r := range roots {
			rc = append(rc, r.cert)
		}
		for _, c := range inters {
			ic = append(ic, c.cert)
		}
		in := newCFSSLInputs(b, rc, ic, []cfsslPlatform{
			{"all", 10, rc}, {"half", 5, rc[:75]}, {"other-half", 3, rc[75:]},
		})
		w := &benchWorld{leaf: leaf.cert, in: in, leafFile: filepath.Join(in.dir, "leaf.pem")}
		writePEM(b, w.leafFile, leaf.cert)
		benchW = w
	})
	return benchW
}

// p50 reports the median of per-operation times as p50-ns/op.
func p50(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns/op")
}

// BenchmarkBundle: pkid's bundler with the pool loaded (warm: what the
// daemon does per request), pkid reading and indexing the same PEM files
// then bundling (cold: what one `cfssl bundle` run does), and the real
// CFSSL 1.6.5 bundler. CFSSL's Go package is not imported (it would pull
// its dependency tree into pkid's go.mod), so its figure is `cfssl bundle`
// run per operation minus a `cfssl version` run (process start) measured
// in the same benchmark run; scripts/bench.sh prints the ratios.
func BenchmarkBundle(b *testing.B) {
	w := loadBenchWorld(b)
	pool, err := NewPool(w.in.trustCerts, w.in.sdkPlatforms)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("pkid-warm", func(b *testing.B) {
		bd := &Bundler{Pool: pool}
		times := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			bun, err := bd.Bundle(ctx, Request{Chain: []*x509.Certificate{w.leaf}})
			if err != nil || len(bun.Chain) != 2 {
				b.Fatal(err)
			}
			times = append(times, time.Since(t0))
		}
		p50(b, times)
	})
	b.Run("pkid-cold", func(b *testing.B) {
		times := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			var tcs []sdk.TrustCert
			for _, f := range []struct {
				path string
				root bool
			}{{w.in.rootsFile, true}, {w.in.intFile, false}} {
				data, err := os.ReadFile(f.path)
				if err != nil {
					b.Fatal(err)
				}
				// A trust source reads a bundle file block by block; the
				// pool parses each DER.
				for rest := data; ; {
					var blk *pem.Block
					if blk, rest = pem.Decode(rest); blk == nil {
						break
					}
					tcs = append(tcs, sdk.TrustCert{DER: blk.Bytes, Root: f.root})
				}
			}
			p, err := NewPool(tcs, w.in.sdkPlatforms)
			if err != nil {
				b.Fatal(err)
			}
			data, _ := os.ReadFile(w.leafFile)
			chain, _, err := ParseChain(data, "")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := (&Bundler{Pool: p}).Bundle(ctx, Request{Chain: chain}); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(t0))
		}
		p50(b, times)
	})
	cfssl := testtool.Oracle(b, "cfssl")
	run := func(b *testing.B, args ...string) {
		times := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			if out, err := exec.Command(cfssl, args...).CombinedOutput(); err != nil {
				b.Fatalf("cfssl %v: %v\n%s", args, err, out)
			}
			times = append(times, time.Since(t0))
		}
		p50(b, times)
	}
	b.Run("cfssl-process", func(b *testing.B) {
		run(b, "bundle", "-cert", w.leafFile, "-ca-bundle", w.in.rootsFile, "-int-bundle", w.in.intFile, "-metadata", w.in.metaFile)
	})
	b.Run("cfssl-startup", func(b *testing.B) {
		run(b, "version")
	})
}
