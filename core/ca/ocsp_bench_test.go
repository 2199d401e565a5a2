package ca_test

import (
	"context"
	"crypto"
	"encoding/hex"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
)

// BenchmarkOCSPPresign compares RefreshOCSP (list, read the stored
// response, sign, store; 8 workers) over N stored good certificates with a
// bare loop of ocsp.CreateResponse for the same serials and key (in-memory
// ECDSA P-256 CA key, in-memory store). Both report responses/s.
func BenchmarkOCSPPresign(b *testing.B) {
	const n = 2000
	ctx := context.Background()
	c := newOCSPCA(b, "ecdsa", "bench OCSP CA")
	store := newOCSPMemStore()
	aki := hex.EncodeToString(c.cert.SubjectKeyId)
	serials := make([]*big.Int, n)
	for k := range n {
		serials[k] = big.NewInt(int64(1_000_000 + k))
		store.Put(ctx, &sdk.CertRecord{Serial: serials[k].String(), AKI: aki, IssuerLabel: "bench", Status: sdk.StatusGood, NotAfter: time.Now().Add(24 * time.Hour)})
	}
	iss := c.issuer(b, "bench", nil, store)

	b.Run("refresh", func(b *testing.B) {
		// Within beyond the validity: every run re-signs every response.
		req := ca.RefreshRequest{Within: 10 * ca.DefaultOCSPValidity}
		start := time.Now()
		for b.Loop() {
			res, err := iss.RefreshOCSP(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			if res.Signed != n {
				b.Fatalf("signed %d, want %d", res.Signed, n)
			}
		}
		b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "responses/s")
	})

	// The same parallelism as RefreshOCSP's workers, so the ratio compares
	// work per response, not core usage.
	b.Run("bare", func(b *testing.B) {
		now := time.Now().UTC().Truncate(time.Hour)
		start := time.Now()
		for b.Loop() {
			var next atomic.Int64
			var wg sync.WaitGroup
			for range 8 { // RefreshOCSP's worker count
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := next.Add(1) - 1; k < n; k = next.Add(1) - 1 {
						_, err := ocsp.CreateResponse(c.cert, c.cert, ocsp.Response{
							Status: ocsp.Good, SerialNumber: serials[k], ThisUpdate: now, NextUpdate: now.Add(ca.DefaultOCSPValidity), IssuerHash: crypto.SHA1,
						}, c.key)
						if err != nil {
							b.Error(fmt.Errorf("CreateResponse: %w", err))
							return
						}
					}
				}()
			}
			wg.Wait()
		}
		b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "responses/s")
	})
}
