package ct_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ct"
)

// BenchmarkIssueCT: issuance (P-256, lint, sign) under a 2-of-3 policy
// (two operators) against three local Sunlight logs, and the same
// issuance without CT, with the per-issuance p50 and p99 latency. The
// logs' sequencing period (reported as period-ms) bounds the CT latency
// from below: Sunlight answers once the entry is sequenced.
func BenchmarkIssueCT(b *testing.B) {
	la, lb, lc := sunlights(b)
	csrs := make([][]byte, 64)
	for i := range csrs {
		csrs[i] = leafCSR(b)
	}
	for _, bc := range []struct {
		name string
		iss  *ca.Issuer
	}{
		{"ct-2of3", issuer(b, policy(2, 2, 10*time.Second, 1, cfgLog(la.URL, la.KeyDER, "A"), cfgLog(lb.URL, lb.KeyDER, "B"), cfgLog(lc.URL, lc.KeyDER, "C")), ct.NewSource(ct.Options{}), nil)},
		{"no-ct", issuer(b, nil, nil, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := bc.iss.Sign(context.Background(), ca.SignRequest{CSR: csrs[i%len(csrs)], Profile: "server"}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(la.Period.Milliseconds()), "period-ms")
		})
	}
}
