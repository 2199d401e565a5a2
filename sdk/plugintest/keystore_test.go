package plugintest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/pkid/pkid/sdk"
)

func TestVerifySignature(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	d := sha256.Sum256([]byte("m"))

	pkcs1, _ := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, d[:])
	pss, _ := rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	ecSig, _ := ecdsa.SignASN1(rand.Reader, ecKey, d[:])
	edSig := ed25519.Sign(edKey, []byte("m"))

	pkcs1Req := sdk.SignRequest{Hash: crypto.SHA256}
	pssReq := sdk.SignRequest{Hash: crypto.SHA256, PSS: true, SaltLength: rsa.PSSSaltLengthEqualsHash}
	for _, c := range []struct {
		name   string
		pub    crypto.PublicKey
		digest []byte
		sig    []byte
		req    sdk.SignRequest
		ok     bool
	}{
		{"pkcs1", &rsaKey.PublicKey, d[:], pkcs1, pkcs1Req, true},
		{"pkcs1 as pss", &rsaKey.PublicKey, d[:], pkcs1, pssReq, false},
		{"pss", &rsaKey.PublicKey, d[:], pss, pssReq, true},
		{"pss as pkcs1", &rsaKey.PublicKey, d[:], pss, pkcs1Req, false},
		{"ecdsa", &ecKey.PublicKey, d[:], ecSig, pkcs1Req, true},
		{"ecdsa other digest", &ecKey.PublicKey, d[1:], ecSig, pkcs1Req, false},
		{"ed25519", edPub, []byte("m"), edSig, sdk.SignRequest{}, true},
		{"ed25519 with hash", edPub, []byte("m"), edSig, pkcs1Req, false},
		{"ed25519 other message", edPub, []byte("n"), edSig, sdk.SignRequest{}, false},
		{"unknown key type", "not a key", d[:], pkcs1, pkcs1Req, false},
	} {
		err := VerifySignature(c.pub, c.digest, c.sig, c.req)
		if (err == nil) != c.ok {
			t.Errorf("%s: VerifySignature = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}
