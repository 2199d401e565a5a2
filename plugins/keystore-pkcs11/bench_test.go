//go:build cgo && !nopkcs11

package keystorepkcs11_test

import (
	"crypto"
	"crypto/sha256"
	"sync"
	"testing"

	"github.com/pkid/pkid/sdk"
)

// BenchmarkSignP256 measures in-process ECDSA P-256 signing on SoftHSM with
// 1 and 32 concurrent callers (pool of 2×GOMAXPROCS sessions).
func BenchmarkSignP256(b *testing.B) { benchSign(b, sdk.AlgECDSAP256) }

// BenchmarkSignRSA2048 is BenchmarkSignP256 for RSA-2048 PKCS #1 v1.5.
func BenchmarkSignRSA2048(b *testing.B) { benchSign(b, sdk.AlgRSA2048) }

func benchSign(b *testing.B, alg string) {
	ks, _ := newStore(b)
	if _, err := ks.GenerateKey(b.Context(), sdk.GenerateKeyRequest{ID: "bench", Algorithm: alg}); err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("benchmark"))
	req := sdk.SignRequest{KeyID: "bench", Digest: d[:], Hash: crypto.SHA256}
	for _, callers := range []int{1, 32} {
		b.Run(map[int]string{1: "callers=1", 32: "callers=32"}[callers], func(b *testing.B) {
			var (
				wg   sync.WaitGroup
				next = make(chan struct{})
			)
			for range callers {
				wg.Go(func() {
					for range next {
						if _, err := ks.Sign(b.Context(), req); err != nil {
							b.Error(err)
						}
					}
				})
			}
			for b.Loop() {
				next <- struct{}{}
			}
			close(next)
			wg.Wait()
		})
	}
}
