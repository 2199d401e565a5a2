//go:build cgo && !nopkcs11

package keystorepkcs11_test

import (
	"crypto"
	"crypto/sha256"
	"sync"
	"testing"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// TestSessionsClosedBehindOurBack closes every session of the token (which
// also logs it out), as an idle timeout or token restart would, and checks
// that the next signatures succeed without reconfiguring.
func TestSessionsClosedBehindOurBack(t *testing.T) {
	ks, _ := newStore(t)
	keys := map[string]*sdk.KeyInfo{}
	for _, alg := range []string{sdk.AlgECDSAP256, sdk.AlgRSA2048, sdk.AlgEd25519} {
		k, err := ks.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: "rec-" + alg, Algorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		keys[alg] = k
	}
	sign := func(k *sdk.KeyInfo) error {
		req := sdk.SignRequest{KeyID: k.ID, Digest: []byte("message")}
		if k.Algorithm != sdk.AlgEd25519 {
			d := sha256.Sum256(req.Digest)
			req.Digest, req.Hash = d[:], crypto.SHA256
		}
		sig, err := ks.Sign(t.Context(), req)
		if err != nil {
			return err
		}
		return plugintest.VerifySignature(k.PublicKey, req.Digest, sig, req)
	}
	// Fill the pool with several idle sessions first.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _ = sign(keys[sdk.AlgECDSAP256]) })
	}
	wg.Wait()

	for round := range 3 {
		before := ks.PoolGenerationForTest()
		if err := ks.CloseAllSessionsForTest(); err != nil {
			t.Fatalf("C_CloseAllSessions: %v", err)
		}
		for _, k := range keys {
			if err := sign(k); err != nil {
				t.Fatalf("round %d: Sign(%s) after C_CloseAllSessions: %v", round, k.ID, err)
			}
		}
		if ks.PoolGenerationForTest() == before {
			t.Fatalf("round %d: the pool was not reset, so the recovery path did not run", round)
		}
	}

	// Concurrent callers all hitting dead sessions recover too.
	if err := ks.CloseAllSessionsForTest(); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() { errs <- sign(keys[sdk.AlgECDSAP256]) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Sign after C_CloseAllSessions: %v", err)
		}
	}
	if _, err := ks.ListKeys(t.Context()); err != nil {
		t.Fatalf("ListKeys after recovery: %v", err)
	}
}
