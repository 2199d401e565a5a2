package acme

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"slices"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzParseEnvelope feeds request bodies to the JWS parser: it must not
// panic, must stay within its bounds and may only accept a single
// signature with an allowed algorithm and exactly one of jwk and kid.
func FuzzParseEnvelope(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, kid := range []string{"", "https://127.0.0.1/acme/issuing/acme/account/x"} {
		opts := (&jose.SignerOptions{EmbedJWK: kid == ""}).WithHeader("nonce", "n").WithHeader("url", "https://127.0.0.1/acme/x")
		sk := jose.SigningKey{Algorithm: jose.ES256, Key: key}
		if kid != "" {
			sk.Key = jose.JSONWebKey{Key: key, KeyID: kid}
		}
		s, err := jose.NewSigner(sk, opts)
		if err != nil {
			f.Fatal(err)
		}
		obj, _ := s.Sign([]byte(`{"identifiers":[{"type":"dns","value":"a.example"}]}`))
		f.Add([]byte(obj.FullSerialize()))
	}
	f.Add([]byte(`{"protected":"eyJhbGciOiJub25lIn0","payload":"","signature":""}`))
	f.Add([]byte(`{"protected":"e30","payload":"e30","signature":"AA","header":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, p := parseEnvelope(body)
		if p != nil {
			if env != nil || p.Status < 400 || p.Status >= 500 {
				t.Fatalf("problem %+v with envelope %v", p, env)
			}
			return
		}
		if len(body) > MaxRequestBytes {
			t.Fatal("accepted an oversized body")
		}
		if !slices.Contains(algorithmNames(), env.alg) || (env.jwk == nil) == (env.kid == "") || env.url == "" {
			t.Fatalf("accepted %+v", env)
		}
		if env.jwk != nil {
			_, _ = env.verify(env.jwk)
		}
	})
}

// FuzzCheckCSR feeds finalize CSRs: no panic, and an accepted CSR names
// exactly the order's identifiers.
func FuzzCheckCSR(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, names := range [][]string{{"a.example"}, {"a.example", "b.example"}, {"c.example"}} {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: names[0]}, DNSNames: names}, key)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	ids := []Identifier{{Type: "dns", Value: "a.example"}, {Type: "dns", Value: "b.example"}}
	f.Fuzz(func(t *testing.T, der []byte) {
		cr, p := checkCSR(der, ids)
		if p != nil {
			if cr != nil || p.Type != ErrorNS+ProbBadCSR {
				t.Fatalf("problem %+v with a CSR", p)
			}
			return
		}
		if len(cr.DNSNames) < 2 || cr.CheckSignature() != nil {
			t.Fatalf("accepted %v", cr.DNSNames)
		}
	})
}
