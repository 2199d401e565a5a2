package storepostgres

import (
	"context"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// BenchmarkPut stores one record per Put: one transaction (one commit) each.
func BenchmarkPut(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	na := time.Now().Add(90 * 24 * time.Hour)
	var n int64
	for b.Loop() {
		if err := s.Put(ctx, plugintest.NewCertRecord(n, "ab12", "issuing", na)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPutBatch64 stores 64 records per PutBatch (one transaction).
func BenchmarkPutBatch64(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	na := time.Now().Add(90 * 24 * time.Hour)
	batch := make([]*sdk.CertRecord, 64)
	var n int64
	for b.Loop() {
		for i := range batch {
			batch[i] = plugintest.NewCertRecord(n, "ab12", "issuing", na)
			n++
		}
		errs, err := s.PutBatch(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
