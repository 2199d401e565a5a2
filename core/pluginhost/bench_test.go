package pluginhost_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"runtime"
	"testing"

	"github.com/pkid/pkid/sdk"
)

// BenchmarkSignP256 compares keystore-file ECDSA P-256 signing in process
// and out of process (the default: gRPC to a plugin process, batched over
// the signing stream) with 1 and 32 concurrent callers. scripts/bench.sh
// prints the out/in ratio per concurrency.
func BenchmarkSignP256(b *testing.B) {
	for _, mode := range []string{"inprocess", "process"} {
		h := newHost(b)
		ks := openKeyStore(b, h, mode == "inprocess")
		ctx := context.Background()
		if _, err := ks.GenerateKey(ctx, sdk.GenerateKeyRequest{ID: "bench", Algorithm: sdk.AlgECDSAP256}); err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256([]byte("benchmark"))
		req := sdk.SignRequest{KeyID: "bench", Digest: sum[:], Hash: crypto.SHA256}
		b.Run(mode+"/c1", func(b *testing.B) {
			for b.Loop() {
				if _, err := ks.Sign(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(mode+"/c32", func(b *testing.B) {
			// RunParallel starts parallelism × GOMAXPROCS goroutines.
			b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ks.Sign(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
