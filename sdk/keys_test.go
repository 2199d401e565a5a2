package sdk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestGenerateKeyAlgorithmOf(t *testing.T) {
	// RSA-3072/4096 are left out: slow, and the same code path as 2048.
	for _, alg := range []string{AlgRSA2048, AlgECDSAP256, AlgECDSAP384, AlgECDSAP521, AlgEd25519} {
		k, err := GenerateKey(alg)
		if err != nil {
			t.Fatalf("GenerateKey(%s): %v", alg, err)
		}
		if got, err := AlgorithmOf(k.Public()); got != alg || err != nil {
			t.Errorf("AlgorithmOf(GenerateKey(%s)) = %q, %v", alg, got, err)
		}
	}
	for _, alg := range []string{"", "rsa-1024", "rsa-2049", "ecdsa-p224", "ed448", "RSA-2048"} {
		if _, err := GenerateKey(alg); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("GenerateKey(%q) = %v, want ErrInvalidArgument", alg, err)
		}
	}
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	for _, pub := range []crypto.PublicKey{&weak.PublicKey, &p224.PublicKey, "key", nil} {
		if _, err := AlgorithmOf(pub); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("AlgorithmOf(%T) = %v, want ErrInvalidArgument", pub, err)
		}
	}
}

func TestDeriveKeyID(t *testing.T) {
	a, _ := GenerateKey(AlgECDSAP256)
	b, _ := GenerateKey(AlgECDSAP256)
	ida, err := DeriveKeyID(a.Public())
	if err != nil || !strings.HasPrefix(ida, "key-") || len(ida) != len("key-")+16 {
		t.Fatalf("DeriveKeyID = %q, %v", ida, err)
	}
	if again, _ := DeriveKeyID(a.Public()); again != ida {
		t.Errorf("DeriveKeyID is not stable: %q then %q", ida, again)
	}
	if idb, _ := DeriveKeyID(b.Public()); idb == ida {
		t.Errorf("two keys share the id %q", ida)
	}
	if _, err := DeriveKeyID("key"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("DeriveKeyID(string) = %v, want ErrInvalidArgument", err)
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	enc := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	sec1 := func(k *ecdsa.PrivateKey) []byte { der, _ := x509.MarshalECPrivateKey(k); return der }
	pkcs8 := func(k any) []byte { der, _ := x509.MarshalPKCS8PrivateKey(k); return der }
	params := enc("EC PARAMETERS", []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22})
	for _, c := range []struct {
		name, pem string
		pub       crypto.PublicKey
		wantMsg   string // for errors
	}{
		{"pkcs1", enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), &rsaKey.PublicKey, ""},
		{"sec1 after params", params + enc("EC PRIVATE KEY", sec1(ecKey)), &ecKey.PublicKey, ""},
		{"pkcs8 ed25519", enc("PRIVATE KEY", pkcs8(edKey)), edPub, ""},
		{"cfssl ed25519 label", enc("Ed25519 PRIVATE KEY", pkcs8(edKey)), edPub, ""},

		{"empty", "", nil, "no PEM private key found"},
		{"only params", params, nil, "no PEM private key found"},
		{"encrypted", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n", nil, "encrypted PEM"},
		{"encrypted pkcs8", enc("ENCRYPTED PRIVATE KEY", []byte{0x30, 0}), nil, "encrypted PEM"},
		{"rsa-1024", enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(weak)), nil, "1024 bits"},
		{"p-224", enc("EC PRIVATE KEY", sec1(p224)), nil, "P-224"},
		{"certificate", enc("CERTIFICATE", []byte{0x30, 0}), nil, `"CERTIFICATE" is not a private key`},
		{"garbage pkcs8", enc("PRIVATE KEY", []byte{0x30, 0x03, 0x02, 0x01, 0x00}), nil, `"PRIVATE KEY" block`},
		{"cfssl label on ecdsa", enc("Ed25519 PRIVATE KEY", pkcs8(ecKey)), nil, "label says Ed25519"},
	} {
		signer, err := ParsePrivateKeyPEM([]byte(c.pem))
		if c.pub != nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			} else if !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(c.pub) {
				t.Errorf("%s: parsed another key", c.name)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), c.wantMsg) {
			t.Errorf("%s: error %v, want ErrInvalidArgument mentioning %q", c.name, err, c.wantMsg)
		}
	}
}
