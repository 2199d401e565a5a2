package keystoresplit

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// BenchmarkSign compares a signature through an unlocked split keystore
// (inbox check, use counting, audit line, status file) with the bare ECDSA
// P-256 signature it wraps, in the same run.
func BenchmarkSign(b *testing.B) {
	cs := newCustodians(b, "alice", "bob")
	s, dir := newTestStore(b, 2, cs)
	if _, err := s.GenerateKey(context.Background(), sdk.GenerateKeyRequest{ID: "k", Algorithm: sdk.AlgECDSAP256}); err != nil {
		b.Fatal(err)
	}
	cs.give(b, dir, "k", time.Hour, maxUses, "alice", "bob")
	mustSign(b, s, "k")
	s.mu.Lock()
	priv := s.keys["k"].signer.(*ecdsa.PrivateKey)
	s.mu.Unlock()
	b.Run("split", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Sign(context.Background(), signReq("k")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-ecdsa", func(b *testing.B) {
		for b.Loop() {
			if _, err := ecdsa.SignASN1(rand.Reader, priv, testDigest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
