package keystorefile_test

import (
	"crypto"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/pkid/pkid/sdk"
)

// BenchmarkSignP256 measures in-process ECDSA P-256 signing, serially and
// from GOMAXPROCS goroutines (key lookup must not serialise signers).
func BenchmarkSignP256(b *testing.B) {
	ks := mustConfigure(b, filepath.Join(b.TempDir(), "keys"), testPassphrase)
	if _, err := ks.GenerateKey(b.Context(), sdk.GenerateKeyRequest{ID: "bench", Algorithm: sdk.AlgECDSAP256}); err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("benchmark"))
	req := sdk.SignRequest{KeyID: "bench", Digest: d[:], Hash: crypto.SHA256}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := ks.Sign(b.Context(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ks.Sign(b.Context(), req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
