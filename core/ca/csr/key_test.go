package csr

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateKeys(t *testing.T) {
	tests := []struct {
		kr        *KeyRequest
		wantLabel string
		check     func(crypto.Signer) bool
	}{
		{nil, "EC PRIVATE KEY", func(k crypto.Signer) bool { return k.(*ecdsa.PrivateKey).Curve.Params().BitSize == 256 }},
		{&KeyRequest{"ecdsa", 384}, "EC PRIVATE KEY", func(k crypto.Signer) bool { return k.(*ecdsa.PrivateKey).Curve.Params().BitSize == 384 }},
		{&KeyRequest{"ecdsa", 521}, "EC PRIVATE KEY", func(k crypto.Signer) bool { return k.(*ecdsa.PrivateKey).Curve.Params().BitSize == 521 }},
		{&KeyRequest{"rsa", 2048}, "RSA PRIVATE KEY", func(k crypto.Signer) bool { return k.(*rsa.PrivateKey).N.BitLen() == 2048 }},
		{&KeyRequest{"ed25519", 0}, "PRIVATE KEY", func(k crypto.Signer) bool { _, ok := k.(ed25519.PrivateKey); return ok }},
	}
	for _, tt := range tests {
		k, err := tt.kr.Generate()
		if err != nil {
			t.Fatalf("%+v.Generate: %v", tt.kr, err)
		}
		if !tt.check(k) {
			t.Errorf("%+v.Generate gave %T", tt.kr, k)
		}
		p, err := EncodePrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		block, rest := pem.Decode(p)
		if block == nil || block.Type != tt.wantLabel || len(rest) != 0 || len(block.Headers) != 0 {
			t.Errorf("%+v: PEM = %q, want one %q block", tt.kr, p, tt.wantLabel)
		}
		if bytes.Contains(p, []byte("EC PARAMETERS")) {
			t.Errorf("EC PARAMETERS block written (CFSSL writes none)")
		}
		back, err := ParsePrivateKey(p)
		if err != nil {
			t.Fatalf("ParsePrivateKey(own %s): %v", tt.wantLabel, err)
		}
		if !back.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
			t.Errorf("%s round trip changed the key", tt.wantLabel)
		}
	}
	if _, err := (&KeyRequest{"rsa", 1024}).Generate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Generate(rsa 1024) = %v, want ErrInvalid", err)
	}
}

// TestParsePrivateKeyFiles reads throwaway test keys written by CFSSL 1.6.5
// (cfssl-*.pem) and openssl (openssl-*.pem) under testdata/keys.
func TestParsePrivateKeyFiles(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string
		check   func(crypto.Signer) bool
	}{
		{"cfssl-rsa-2048.pem", "", func(k crypto.Signer) bool { _, ok := k.(*rsa.PrivateKey); return ok }},
		{"cfssl-ecdsa-256.pem", "", func(k crypto.Signer) bool { _, ok := k.(*ecdsa.PrivateKey); return ok }},
		{"cfssl-ecdsa-384.pem", "", func(k crypto.Signer) bool { _, ok := k.(*ecdsa.PrivateKey); return ok }},
		{"cfssl-ed25519-0.pem", "", func(k crypto.Signer) bool { _, ok := k.(ed25519.PrivateKey); return ok }},
		{"openssl-ec-params.pem", "", func(k crypto.Signer) bool { _, ok := k.(*ecdsa.PrivateKey); return ok }},
		{"openssl-rsa-encrypted-legacy.pem", ErrEncryptedKey.Error(), nil},
		{"openssl-ed25519-encrypted-pkcs8.pem", ErrEncryptedKey.Error(), nil},
		{"openssl-x25519.pem", "csr: PRIVATE KEY key of type *ecdh.PrivateKey cannot sign", nil},
	}
	for _, tt := range tests {
		k, err := ParsePrivateKey(readFile(t, filepath.Join("testdata", "keys", tt.file)))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%s: err = %v, want %q", tt.file, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tt.check(k) {
			t.Errorf("%s: %T, %v", tt.file, k, err)
		}
	}
}

func TestParsePrivateKeyErrors(t *testing.T) {
	ed := readFile(t, filepath.Join("testdata", "keys", "cfssl-ed25519-0.pem"))
	block, _ := pem.Decode(ed)
	tests := map[string]string{
		"":        "csr: no PEM private key block found",
		"not pem": "csr: no PEM private key block found",
		"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n":                                                                            `csr: PEM block "CERTIFICATE" is not a private key`,
		"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n":                                                                      "csr: decoding EC PRIVATE KEY: x509: failed to parse EC private key",
		string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: block.Bytes})): ErrEncryptedKey.Error(),
	}
	for in, want := range tests {
		_, err := ParsePrivateKey([]byte(in))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParsePrivateKey(%q) = %v, want %q", in, err, want)
		}
	}
	// A PKCS#8 Ed25519 key under CFSSL's label and pkid's label is the same key.
	a, err1 := ParsePrivateKey(ed)
	b, err2 := ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: block.Bytes}))
	if err1 != nil || err2 != nil || !a.(ed25519.PrivateKey).Equal(b) {
		t.Errorf("Ed25519 labels: %v %v", err1, err2)
	}
	enc, _ := EncodePrivateKey(a)
	if !bytes.HasPrefix(enc, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("Ed25519 re-encoded as %q, want PRIVATE KEY (PKCS#8)", enc)
	}
}

type fakeSigner struct{ crypto.Signer }

func TestEncodePrivateKeyUnsupported(t *testing.T) {
	_, err := EncodePrivateKey(fakeSigner{})
	if err == nil || err.Error() != "csr: cannot encode private key of type csr.fakeSigner" {
		t.Errorf("EncodePrivateKey(fake) = %v", err)
	}
}
