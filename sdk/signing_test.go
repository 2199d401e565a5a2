package sdk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestCheckSignRequest(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaPub, ecPub := &rsaKey.PublicKey, &ecKey.PublicKey
	d := func(n int) []byte { return make([]byte, n) }
	maxSalt := 256 - 32 - 2
	for _, c := range []struct {
		name string
		pub  crypto.PublicKey
		req  SignRequest
		want error // nil: accepted
	}{
		{"ecdsa sha256", ecPub, SignRequest{Digest: d(32), Hash: crypto.SHA256}, nil},
		{"ecdsa sha3-384", ecPub, SignRequest{Digest: d(48), Hash: crypto.SHA3_384}, nil},
		{"rsa sha512", rsaPub, SignRequest{Digest: d(64), Hash: crypto.SHA512}, nil},
		{"rsa pss equals hash", rsaPub, SignRequest{Digest: d(32), Hash: crypto.SHA256, PSS: true, SaltLength: rsa.PSSSaltLengthEqualsHash}, nil},
		{"rsa pss auto", rsaPub, SignRequest{Digest: d(32), Hash: crypto.SHA256, PSS: true, SaltLength: rsa.PSSSaltLengthAuto}, nil},
		{"rsa pss largest salt", rsaPub, SignRequest{Digest: d(32), Hash: crypto.SHA256, PSS: true, SaltLength: maxSalt}, nil},
		{"ed25519 message", edPub, SignRequest{Digest: []byte("any length message")}, nil},

		{"ecdsa sha1", ecPub, SignRequest{Digest: d(20), Hash: crypto.SHA1}, ErrInvalidArgument},
		{"rsa sha1", rsaPub, SignRequest{Digest: d(20), Hash: crypto.SHA1}, ErrInvalidArgument},
		{"rsa md5", rsaPub, SignRequest{Digest: d(16), Hash: crypto.MD5}, ErrInvalidArgument},
		{"rsa md5+sha1", rsaPub, SignRequest{Digest: d(36), Hash: crypto.MD5SHA1}, ErrInvalidArgument},
		{"unknown hash value", ecPub, SignRequest{Digest: d(32), Hash: crypto.Hash(99)}, ErrInvalidArgument},
		{"ecdsa no hash", ecPub, SignRequest{Digest: d(32)}, ErrInvalidArgument},
		{"ecdsa short digest", ecPub, SignRequest{Digest: d(31), Hash: crypto.SHA256}, ErrInvalidArgument},
		{"rsa long digest", rsaPub, SignRequest{Digest: d(48), Hash: crypto.SHA256}, ErrInvalidArgument},
		{"ecdsa pss", ecPub, SignRequest{Digest: d(32), Hash: crypto.SHA256, PSS: true}, ErrInvalidArgument},
		{"rsa pss salt too long", rsaPub, SignRequest{Digest: d(32), Hash: crypto.SHA256, PSS: true, SaltLength: maxSalt + 1}, ErrInvalidArgument},
		{"rsa pss negative salt", rsaPub, SignRequest{Digest: d(32), Hash: crypto.SHA256, PSS: true, SaltLength: -2}, ErrInvalidArgument},
		{"ed25519 with hash", edPub, SignRequest{Digest: d(32), Hash: crypto.SHA256}, ErrInvalidArgument},
		{"ed25519 pss", edPub, SignRequest{Digest: d(32), PSS: true}, ErrInvalidArgument},
		{"unknown key type", "key", SignRequest{Digest: d(32), Hash: crypto.SHA256}, ErrUnimplemented},
	} {
		err := CheckSignRequest(c.pub, c.req)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: CheckSignRequest = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestSignWith(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	d := sha256.Sum256([]byte("m"))
	verify := map[string]func(sig []byte, req SignRequest) bool{
		"rsa": func(sig []byte, req SignRequest) bool {
			return rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, d[:], sig) == nil
		},
		"rsa-pss": func(sig []byte, req SignRequest) bool {
			return rsa.VerifyPSS(&rsaKey.PublicKey, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: req.SaltLength}) == nil
		},
		"ecdsa": func(sig []byte, _ SignRequest) bool { return ecdsa.VerifyASN1(&ecKey.PublicKey, d[:], sig) },
		"ed25519": func(sig []byte, _ SignRequest) bool {
			return ed25519.Verify(edKey.Public().(ed25519.PublicKey), []byte("m"), sig)
		},
	}
	for _, c := range []struct {
		name   string
		signer crypto.Signer
		req    SignRequest
	}{
		{"rsa", rsaKey, SignRequest{Digest: d[:], Hash: crypto.SHA256}},
		{"rsa-pss", rsaKey, SignRequest{Digest: d[:], Hash: crypto.SHA256, PSS: true, SaltLength: 20}},
		{"ecdsa", ecKey, SignRequest{Digest: d[:], Hash: crypto.SHA256}},
		{"ed25519", edKey, SignRequest{Digest: []byte("m")}},
	} {
		sig, err := SignWith(c.signer, c.req)
		if err != nil || !verify[c.name](sig, c.req) {
			t.Errorf("%s: SignWith = %x, %v: not a valid signature", c.name, sig, err)
		}
	}
	d1 := make([]byte, 20)
	if _, err := SignWith(ecKey, SignRequest{Digest: d1, Hash: crypto.SHA1}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("SignWith(SHA-1) = %v, want ErrInvalidArgument", err)
	}
}
