package acme

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"
	"time"
)

// TestEnvelopeHostileKeys: embedded keys that are private, too small,
// too large (verification cost), on other curves, or with alg none, are
// refused before any signature is checked, with the RFC's problem types.
func TestEnvelopeHostileKeys(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	rsaJWK := func(bits int) map[string]any {
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		n.Add(n, big.NewInt(1))
		return map[string]any{"kty": "RSA", "n": b64(n.Bytes()), "e": "AQAB"}
	}
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecJWK := func(k *ecdsa.PrivateKey, crv string, priv bool) map[string]any {
		size := (k.Curve.Params().BitSize + 7) / 8
		m := map[string]any{"kty": "EC", "crv": crv, "x": b64(k.X.FillBytes(make([]byte, size))), "y": b64(k.Y.FillBytes(make([]byte, size)))}
		if priv {
			m["d"] = b64(k.D.FillBytes(make([]byte, size)))
		}
		return m
	}
	rsaPriv, _ := rsa.GenerateKey(rand.Reader, 2048)
	privRSA := map[string]any{"kty": "RSA", "n": b64(rsaPriv.N.Bytes()), "e": "AQAB", "d": b64(rsaPriv.D.Bytes()),
		"p": b64(rsaPriv.Primes[0].Bytes()), "q": b64(rsaPriv.Primes[1].Bytes())}
	tests := []struct {
		name string
		alg  string
		jwk  map[string]any
		typ  string
	}{
		{"alg none", "none", ecJWK(p256, "P-256", false), ProbBadSignatureAlgorithm},
		{"RSA 1024", "RS256", rsaJWK(1024), ProbBadPublicKey},
		{"RSA 16384", "RS256", rsaJWK(16384), ProbBadPublicKey},
		{"P-521", "ES512", ecJWK(p521, "P-521", false), ProbBadSignatureAlgorithm},
		{"P-521 as ES256", "ES256", ecJWK(p521, "P-521", false), ProbBadPublicKey},
		{"private EC key", "ES256", ecJWK(p256, "P-256", true), ProbBadPublicKey},
		{"private RSA key", "RS256", privRSA, ProbBadPublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr, _ := json.Marshal(map[string]any{"alg": tt.alg, "nonce": "n", "url": "https://x/acme/a/b/new-account", "jwk": tt.jwk})
			body, _ := json.Marshal(map[string]string{"protected": b64(hdr), "payload": b64([]byte("{}")), "signature": b64(make([]byte, 64))})
			start := time.Now()
			_, p := parseEnvelope(body)
			if p == nil || p.Type != ErrorNS+tt.typ {
				t.Fatalf("problem %+v, want %s", p, tt.typ)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("took %v", d)
			}
		})
	}
}
