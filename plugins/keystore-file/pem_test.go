package keystorefile_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	keystorefile "github.com/pkid/pkid/plugins/keystore-file"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// cfsslEd25519PEM encodes k the way CFSSL's derhelpers do: a PKCS #8
// OneAsymmetricKey under the "Ed25519 PRIVATE KEY" label. full puts the
// 64-byte seed||public form inside, as some older writers did.
func cfsslEd25519PEM(t testing.TB, k ed25519.PrivateKey, full bool) []byte {
	inner := k.Seed()
	if full {
		inner = k
	}
	octets, err := asn1.Marshal(inner)
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		Version    int
		Algorithm  pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{0, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 3, 101, 112}}, octets})
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "Ed25519 PRIVATE KEY", Bytes: der})
}

// TestImportCFSSLCAKey imports ca-key.pem files as `cfssl gencert -initca`
// writes them (RSA PKCS #1, ECDSA SEC 1, Ed25519 with CFSSL's label) from
// disk, then signs with them.
func TestImportCFSSLCAKey(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edPub2, edKey2, _ := ed25519.GenerateKey(rand.Reader)

	tmp := t.TempDir()
	ks := mustConfigure(t, filepath.Join(tmp, "keys"), testPassphrase)
	for _, c := range []struct {
		name, alg string
		pub       crypto.PublicKey
		pem       []byte
	}{
		{"rsa", sdk.AlgRSA2048, &rsaKey.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})},
		{"ecdsa", sdk.AlgECDSAP256, &ecKey.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})},
		{"ed25519", sdk.AlgEd25519, edPub, cfsslEd25519PEM(t, edKey, false)},
		{"ed25519-full", sdk.AlgEd25519, edPub2, cfsslEd25519PEM(t, edKey2, true)},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(tmp, c.name+"-ca-key.pem")
			if err := os.WriteFile(path, c.pem, 0o600); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			info, err := ks.(sdk.KeyImporter).ImportKey(t.Context(), sdk.ImportKeyRequest{PEM: data})
			if err != nil {
				t.Fatalf("ImportKey: %v", err)
			}
			if info.Algorithm != c.alg || !strings.HasPrefix(info.ID, "key-") || len(info.ID) != len("key-")+16 {
				t.Errorf("imported key = %+v", info)
			}
			// The derived id names the key, so importing it again collides.
			if _, err := ks.(sdk.KeyImporter).ImportKey(t.Context(), sdk.ImportKeyRequest{PEM: data}); !errors.Is(err, sdk.ErrAlreadyExists) {
				t.Errorf("second import: %v, want ErrAlreadyExists", err)
			}
			req := sdk.SignRequest{KeyID: info.ID, Digest: []byte("message")}
			if c.alg != sdk.AlgEd25519 {
				d := sha256.Sum256(req.Digest)
				req.Digest, req.Hash = d[:], crypto.SHA256
			}
			sig, err := ks.Sign(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if err := plugintest.VerifySignature(c.pub, req.Digest, sig, req); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestParsePrivateKeyPEMErrors(t *testing.T) {
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p224DER, _ := x509.MarshalECPrivateKey(p224)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	mismatched := append(append([]byte{}, edKey.Seed()...), make([]byte, 32)...)
	for _, c := range []struct {
		name, pem, wantMsg string
	}{
		{"empty", "", "no PEM private key found"},
		{"only params", string(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 0}})), "no PEM private key found"},
		{"encrypted", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n", "encrypted PEM private keys are not supported"},
		{"encrypted pkcs8", string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}})), "encrypted PEM private keys are not supported"},
		{"rsa-1024", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(weak)})), "1024 bits"},
		{"p-224", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: p224DER})), "P-224"},
		{"certificate", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0}})), `"CERTIFICATE" is not a private key`},
		{"ed25519 halves disagree", string(cfsslEd25519PEM(t, ed25519.PrivateKey(mismatched), true)), "disagree"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := keystorefile.ParsePrivateKeyPEM([]byte(c.pem))
			if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error %v, want ErrInvalidArgument mentioning %q", err, c.wantMsg)
			}
		})
	}
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	p8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}}))
	f.Add(cfsslEd25519PEM(f, edKey, false))
	f.Add(cfsslEd25519PEM(f, edKey, true))
	f.Add([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		signer, err := keystorefile.ParsePrivateKeyPEM(data)
		if err != nil {
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Fatalf("error %v does not wrap ErrInvalidArgument", err)
			}
			return
		}
		if signer == nil || signer.Public() == nil {
			t.Fatal("nil key without an error")
		}
	})
}
