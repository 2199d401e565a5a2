package plugintest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/pkid/pkid/sdk"
)

// TestKeyStore runs the KeyStore conformance suite. newStore must return a
// new, empty, ready store for each call and arrange its Close (t.Cleanup);
// the suite never closes stores itself. Stores must support every sdk.Alg*
// algorithm; a store that does not implement sdk.KeyImporter has the
// import subtests skipped. Subtests may call the store concurrently.
func TestKeyStore(t *testing.T, newStore func(t *testing.T) sdk.KeyStore) {
	t.Run("GenerateSignVerify", func(t *testing.T) { keystoreGenerateAll(t, newStore(t)) })
	t.Run("DerivedID", func(t *testing.T) { keystoreDerivedID(t, newStore(t)) })
	t.Run("ListKeys", func(t *testing.T) { keystoreListKeys(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { keystoreNotFound(t, newStore(t)) })
	t.Run("DuplicateID", func(t *testing.T) { keystoreDuplicateID(t, newStore(t)) })
	t.Run("InvalidAlgorithm", func(t *testing.T) { keystoreInvalidAlgorithm(t, newStore(t)) })
	t.Run("InvalidSignRequest", func(t *testing.T) { keystoreInvalidSign(t, newStore(t)) })
	t.Run("SignHashPolicy", func(t *testing.T) { keystoreHashPolicy(t, newStore(t)) })
	t.Run("Import", func(t *testing.T) { keystoreImport(t, newStore(t)) })
	t.Run("ImportInvalid", func(t *testing.T) { keystoreImportInvalid(t, newStore(t)) })
	t.Run("ConcurrentSign", func(t *testing.T) { keystoreConcurrentSign(t, newStore(t)) })
}

// keystoreAlgSpec is what the suite expects of one algorithm.
type keystoreAlgSpec struct {
	alg   string
	check func(crypto.PublicKey) error
}

var keystoreAlgorithms = []keystoreAlgSpec{
	{sdk.AlgRSA2048, keystoreRsaBits(2048)},
	{sdk.AlgRSA3072, keystoreRsaBits(3072)},
	{sdk.AlgRSA4096, keystoreRsaBits(4096)},
	{sdk.AlgECDSAP256, keystoreCurve(elliptic.P256())},
	{sdk.AlgECDSAP384, keystoreCurve(elliptic.P384())},
	{sdk.AlgECDSAP521, keystoreCurve(elliptic.P521())},
	{sdk.AlgEd25519, func(pub crypto.PublicKey) error {
		if _, ok := pub.(ed25519.PublicKey); !ok {
			return fmt.Errorf("public key is %T, want ed25519.PublicKey", pub)
		}
		return nil
	}},
}

func keystoreRsaBits(bits int) func(crypto.PublicKey) error {
	return func(pub crypto.PublicKey) error {
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("public key is %T, want *rsa.PublicKey", pub)
		}
		if k.N.BitLen() != bits {
			return fmt.Errorf("RSA key has %d bits, want %d", k.N.BitLen(), bits)
		}
		return nil
	}
}

func keystoreCurve(c elliptic.Curve) func(crypto.PublicKey) error {
	return func(pub crypto.PublicKey) error {
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("public key is %T, want *ecdsa.PublicKey", pub)
		}
		if k.Curve != c {
			return fmt.Errorf("ECDSA keystoreCurve is %s, want %s", k.Curve.Params().Name, c.Params().Name)
		}
		return nil
	}
}

// keystoreSignRequests lists the signature variants the suite exercises for a key.
func keystoreSignRequests(pub crypto.PublicKey, keyID string) []sdk.SignRequest {
	if _, ok := pub.(ed25519.PublicKey); ok {
		return []sdk.SignRequest{{KeyID: keyID, Digest: []byte("pkid keystore conformance message")}}
	}
	d256 := sha256.Sum256([]byte("pkid keystore conformance"))
	d384 := sha512.Sum384([]byte("pkid keystore conformance"))
	reqs := []sdk.SignRequest{
		{KeyID: keyID, Digest: d256[:], Hash: crypto.SHA256},
		{KeyID: keyID, Digest: d384[:], Hash: crypto.SHA384},
	}
	if _, ok := pub.(*rsa.PublicKey); ok {
		reqs = append(reqs,
			sdk.SignRequest{KeyID: keyID, Digest: d256[:], Hash: crypto.SHA256, PSS: true, SaltLength: rsa.PSSSaltLengthEqualsHash},
			sdk.SignRequest{KeyID: keyID, Digest: d384[:], Hash: crypto.SHA384, PSS: true, SaltLength: rsa.PSSSaltLengthEqualsHash},
			sdk.SignRequest{KeyID: keyID, Digest: d256[:], Hash: crypto.SHA256, PSS: true, SaltLength: rsa.PSSSaltLengthAuto},
			sdk.SignRequest{KeyID: keyID, Digest: d256[:], Hash: crypto.SHA256, PSS: true, SaltLength: 20},
		)
	}
	return reqs
}

// keystoreSignAndVerify signs every variant with keyID and verifies against pub.
func keystoreSignAndVerify(t *testing.T, ks sdk.KeyStore, pub crypto.PublicKey, keyID string) {
	t.Helper()
	for _, req := range keystoreSignRequests(pub, keyID) {
		sig, err := ks.Sign(t.Context(), req)
		if err != nil {
			t.Errorf("Sign(%s, hash %v, pss %v, salt %d): %v", keyID, req.Hash, req.PSS, req.SaltLength, err)
			continue
		}
		if err := VerifySignature(pub, req.Digest, sig, req); err != nil {
			t.Errorf("Sign(%s, hash %v, pss %v, salt %d): signature does not verify: %v", keyID, req.Hash, req.PSS, req.SaltLength, err)
			continue
		}
		// The signature must cover the digest.
		other := append([]byte(nil), req.Digest...)
		other[0] ^= 1
		if VerifySignature(pub, other, sig, req) == nil {
			t.Errorf("Sign(%s, hash %v): signature also verifies for another digest", keyID, req.Hash)
		}
	}
}

// keystoreCheckInfo checks what a store returned for a key.
func keystoreCheckInfo(t *testing.T, info *sdk.KeyInfo, id string, spec keystoreAlgSpec) {
	t.Helper()
	if info == nil {
		t.Fatalf("key %s: nil KeyInfo", id)
	}
	if id != "" && info.ID != id {
		t.Errorf("KeyInfo.ID = %q, want %q", info.ID, id)
	}
	if info.Algorithm != spec.alg {
		t.Errorf("key %s: Algorithm = %q, want %q", info.ID, info.Algorithm, spec.alg)
	}
	if _, ok := info.PublicKey.(crypto.Signer); ok {
		t.Fatalf("key %s: KeyInfo.PublicKey is a private key (%T)", info.ID, info.PublicKey)
	}
	if err := spec.check(info.PublicKey); err != nil {
		t.Fatalf("key %s: %v", info.ID, err)
	}
}

func keystoreSamePublic(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

func keystoreMustGenerate(t *testing.T, ks sdk.KeyStore, id, alg string) *sdk.KeyInfo {
	t.Helper()
	info, err := ks.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: id, Algorithm: alg})
	if err != nil {
		t.Fatalf("GenerateKey(%q, %s): %v", id, alg, err)
	}
	if info == nil || info.PublicKey == nil {
		t.Fatalf("GenerateKey(%q, %s): no public key", id, alg)
	}
	return info
}

func keystoreWantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: error %v, want one matching %q", what, err, sentinel)
	}
}

func keystoreGenerateAll(t *testing.T, ks sdk.KeyStore) {
	for _, spec := range keystoreAlgorithms {
		t.Run(spec.alg, func(t *testing.T) {
			t.Parallel()
			id := "kit-" + spec.alg
			info := keystoreMustGenerate(t, ks, id, spec.alg)
			keystoreCheckInfo(t, info, id, spec)
			got, err := ks.PublicKey(t.Context(), id)
			if err != nil {
				t.Fatalf("PublicKey(%s): %v", id, err)
			}
			keystoreCheckInfo(t, got, id, spec)
			if !keystoreSamePublic(got.PublicKey, info.PublicKey) {
				t.Errorf("PublicKey(%s) differs from GenerateKey's", id)
			}
			keystoreSignAndVerify(t, ks, info.PublicKey, id)
		})
	}
}

func keystoreDerivedID(t *testing.T, ks sdk.KeyStore) {
	info := keystoreMustGenerate(t, ks, "", sdk.AlgECDSAP256)
	if info.ID == "" {
		t.Fatal("GenerateKey with an empty id returned an empty KeyInfo.ID")
	}
	got, err := ks.PublicKey(t.Context(), info.ID)
	if err != nil {
		t.Fatalf("PublicKey(%s) of a key with a store-chosen id: %v", info.ID, err)
	}
	if !keystoreSamePublic(got.PublicKey, info.PublicKey) {
		t.Errorf("PublicKey(%s) differs from GenerateKey's", info.ID)
	}
	keystoreSignAndVerify(t, ks, info.PublicKey, info.ID)
}

func keystoreListKeys(t *testing.T, ks sdk.KeyStore) {
	want := map[string]*sdk.KeyInfo{}
	for _, id := range []string{"kit-list-b", "kit-list-a", "kit-list-c"} {
		want[id] = keystoreMustGenerate(t, ks, id, sdk.AlgECDSAP256)
	}
	want["kit-list-ed"] = keystoreMustGenerate(t, ks, "kit-list-ed", sdk.AlgEd25519)
	list, err := ks.ListKeys(t.Context())
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	seen := map[string]bool{}
	for _, info := range list {
		if seen[info.ID] {
			t.Errorf("ListKeys lists %q twice", info.ID)
		}
		seen[info.ID] = true
		w, ok := want[info.ID]
		if !ok {
			continue
		}
		if info.Algorithm != w.Algorithm {
			t.Errorf("ListKeys: %s has Algorithm %q, want %q", info.ID, info.Algorithm, w.Algorithm)
		}
		if !keystoreSamePublic(info.PublicKey, w.PublicKey) {
			t.Errorf("ListKeys: %s has another public key than GenerateKey returned", info.ID)
		}
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("ListKeys does not list %q", id)
		}
	}
}

func keystoreNotFound(t *testing.T, ks sdk.KeyStore) {
	_, err := ks.PublicKey(t.Context(), "kit-no-such-key")
	keystoreWantErr(t, "PublicKey of an unknown key", err, sdk.ErrNotFound)
	d := sha256.Sum256([]byte("x"))
	_, err = ks.Sign(t.Context(), sdk.SignRequest{KeyID: "kit-no-such-key", Digest: d[:], Hash: crypto.SHA256})
	keystoreWantErr(t, "Sign with an unknown key", err, sdk.ErrNotFound)
}

func keystoreDuplicateID(t *testing.T, ks sdk.KeyStore) {
	first := keystoreMustGenerate(t, ks, "kit-dup", sdk.AlgECDSAP256)
	_, err := ks.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: "kit-dup", Algorithm: sdk.AlgEd25519})
	keystoreWantErr(t, "GenerateKey with a taken id", err, sdk.ErrAlreadyExists)
	if imp, ok := ks.(sdk.KeyImporter); ok {
		_, err = imp.ImportKey(t.Context(), sdk.ImportKeyRequest{ID: "kit-dup", PEM: keystoreEcPEM(t, elliptic.P256())})
		keystoreWantErr(t, "ImportKey with a taken id", err, sdk.ErrAlreadyExists)
	}
	got, err := ks.PublicKey(t.Context(), "kit-dup")
	if err != nil {
		t.Fatalf("PublicKey(kit-dup): %v", err)
	}
	if !keystoreSamePublic(got.PublicKey, first.PublicKey) {
		t.Error("a rejected duplicate replaced the existing key")
	}
}

func keystoreInvalidAlgorithm(t *testing.T, ks sdk.KeyStore) {
	for _, alg := range []string{"", "rsa-1024", "dsa-2048", "ecdsa-p224", "ed448"} {
		_, err := ks.GenerateKey(t.Context(), sdk.GenerateKeyRequest{ID: "kit-bad-alg", Algorithm: alg})
		keystoreWantErr(t, fmt.Sprintf("GenerateKey(algorithm %q)", alg), err, sdk.ErrInvalidArgument)
	}
	if _, err := ks.PublicKey(t.Context(), "kit-bad-alg"); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("a rejected GenerateKey left a key behind (PublicKey: %v)", err)
	}
}

func keystoreInvalidSign(t *testing.T, ks sdk.KeyStore) {
	keystoreMustGenerate(t, ks, "kit-p256", sdk.AlgECDSAP256)
	keystoreMustGenerate(t, ks, "kit-ed", sdk.AlgEd25519)
	keystoreMustGenerate(t, ks, "kit-rsa", sdk.AlgRSA2048)
	d256 := sha256.Sum256([]byte("x"))
	d384 := sha512.Sum384([]byte("x"))
	cases := []struct {
		name string
		req  sdk.SignRequest
	}{
		{"ECDSA short digest", sdk.SignRequest{KeyID: "kit-p256", Digest: d256[:31], Hash: crypto.SHA256}},
		{"ECDSA digest of another hash", sdk.SignRequest{KeyID: "kit-p256", Digest: d256[:], Hash: crypto.SHA384}},
		{"ECDSA with PSS", sdk.SignRequest{KeyID: "kit-p256", Digest: d256[:], Hash: crypto.SHA256, PSS: true}},
		{"RSA long digest", sdk.SignRequest{KeyID: "kit-rsa", Digest: d384[:], Hash: crypto.SHA256}},
		{"RSA-PSS short digest", sdk.SignRequest{KeyID: "kit-rsa", Digest: d256[:20], Hash: crypto.SHA256, PSS: true}},
		{"RSA-PSS salt longer than the key allows", sdk.SignRequest{KeyID: "kit-rsa", Digest: d256[:], Hash: crypto.SHA256, PSS: true, SaltLength: 256}},
		{"RSA-PSS negative salt", sdk.SignRequest{KeyID: "kit-rsa", Digest: d256[:], Hash: crypto.SHA256, PSS: true, SaltLength: -3}},
		{"Ed25519 with a hash", sdk.SignRequest{KeyID: "kit-ed", Digest: d256[:], Hash: crypto.SHA256}},
		{"Ed25519 with PSS", sdk.SignRequest{KeyID: "kit-ed", Digest: d256[:], PSS: true}},
	}
	for _, c := range cases {
		_, err := ks.Sign(t.Context(), c.req)
		keystoreWantErr(t, "Sign: "+c.name, err, sdk.ErrInvalidArgument)
	}
}

// keystoreHashPolicy checks the signing policy of sdk.CheckSignRequest: no
// MD5 or SHA-1 (nor MD5+SHA-1, nor an unknown hash) for any key or padding,
// and a digest of exactly the hash's size.
func keystoreHashPolicy(t *testing.T, ks sdk.KeyStore) {
	keys := []*sdk.KeyInfo{
		keystoreMustGenerate(t, ks, "kit-policy-p256", sdk.AlgECDSAP256),
		keystoreMustGenerate(t, ks, "kit-policy-p384", sdk.AlgECDSAP384),
		keystoreMustGenerate(t, ks, "kit-policy-rsa", sdk.AlgRSA2048),
	}
	d := func(n int) []byte { return bytes.Repeat([]byte{0x5a}, n) }
	type hashCase struct {
		name   string
		hash   crypto.Hash
		digest []byte
	}
	cases := []hashCase{
		{"SHA-1", crypto.SHA1, d(20)},
		{"MD5", crypto.MD5, d(16)},
		{"MD5+SHA-1", crypto.MD5SHA1, d(36)},
		{"unknown hash 99", crypto.Hash(99), d(32)},
		{"SHA-1 with a SHA-256-sized digest", crypto.SHA1, d(32)},
		{"SHA-256 with a SHA-1-sized digest", crypto.SHA256, d(20)},
		{"SHA-512 with a SHA-384-sized digest", crypto.SHA512, d(48)},
		{"SHA-256 with an empty digest", crypto.SHA256, nil},
		{"no hash with a digest", 0, d(32)},
	}
	for _, k := range keys {
		for _, c := range cases {
			pss := []bool{false}
			if k.Algorithm == sdk.AlgRSA2048 {
				pss = append(pss, true)
			}
			for _, p := range pss {
				req := sdk.SignRequest{KeyID: k.ID, Digest: c.digest, Hash: c.hash, PSS: p}
				if p {
					req.SaltLength = rsa.PSSSaltLengthEqualsHash
				}
				_, err := ks.Sign(t.Context(), req)
				keystoreWantErr(t, fmt.Sprintf("Sign(%s, %s, pss %v)", k.ID, c.name, p), err, sdk.ErrInvalidArgument)
			}
		}
	}
}

// keystoreImportCase is one key the import subtest brings into the store.
type keystoreImportCase struct {
	id   string
	spec keystoreAlgSpec
	pub  crypto.PublicKey
	pem  []byte
}

func keystoreImportCases(t *testing.T) []keystoreImportCase {
	t.Helper()
	rsaA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaB, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)

	sec1 := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	pkcs8 := func(k crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	// openssl ecparam -genkey writes the keystoreCurve OID in its own block first.
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})

	return []keystoreImportCase{
		{"kit-imp-pkcs1-rsa", keystoreAlgorithms[0], &rsaA.PublicKey,
			pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaA)})},
		{"kit-imp-pkcs8-rsa", keystoreAlgorithms[0], &rsaB.PublicKey, pkcs8(rsaB)},
		{"kit-imp-sec1-p256", keystoreAlgorithms[3], &p256.PublicKey, sec1(p256)},
		{"kit-imp-sec1-params-p256", keystoreAlgorithms[3], &p256b.PublicKey, append(params, sec1(p256b)...)},
		{"kit-imp-sec1-p521", keystoreAlgorithms[5], &p521.PublicKey, sec1(p521)},
		{"kit-imp-pkcs8-p384", keystoreAlgorithms[4], &p384.PublicKey, pkcs8(p384)},
		{"kit-imp-pkcs8-ed25519", keystoreAlgorithms[6], edPub, pkcs8(edPriv)},
	}
}

// importer returns ks as an sdk.KeyImporter, or skips the test.
func importer(t *testing.T, ks sdk.KeyStore) sdk.KeyImporter {
	imp, ok := ks.(sdk.KeyImporter)
	if !ok {
		t.Skipf("%T does not implement sdk.KeyImporter", ks)
	}
	return imp
}

func keystoreImport(t *testing.T, ks sdk.KeyStore) {
	imp := importer(t, ks)
	for _, c := range keystoreImportCases(t) {
		t.Run(c.id, func(t *testing.T) {
			info, err := imp.ImportKey(t.Context(), sdk.ImportKeyRequest{ID: c.id, PEM: c.pem})
			if err != nil {
				t.Fatalf("ImportKey: %v", err)
			}
			keystoreCheckInfo(t, info, c.id, c.spec)
			if !keystoreSamePublic(info.PublicKey, c.pub) {
				t.Fatal("ImportKey returned another public key than the imported key's")
			}
			got, err := ks.PublicKey(t.Context(), c.id)
			if err != nil {
				t.Fatalf("PublicKey: %v", err)
			}
			if !keystoreSamePublic(got.PublicKey, c.pub) {
				t.Fatal("PublicKey differs from the imported key's")
			}
			keystoreSignAndVerify(t, ks, c.pub, c.id)
		})
	}
}

func keystoreImportInvalid(t *testing.T, ks sdk.KeyStore) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		pem  []byte
	}{
		{"empty", nil},
		{"not PEM", []byte("not a key")},
		{"certificate block", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x00}})},
		{"garbage key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}})},
		{"encrypted PEM", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
			Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"},
			Bytes:   make([]byte, 64)})},
		{"encrypted PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0x00}})},
		{"RSA-1024", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(weak)})},
	}
	imp := importer(t, ks)
	for _, c := range cases {
		_, err := imp.ImportKey(t.Context(), sdk.ImportKeyRequest{ID: "kit-bad-import", PEM: c.pem})
		keystoreWantErr(t, "ImportKey("+c.name+")", err, sdk.ErrInvalidArgument)
	}
}

func keystoreConcurrentSign(t *testing.T, ks sdk.KeyStore) {
	keys := []*sdk.KeyInfo{
		keystoreMustGenerate(t, ks, "kit-conc-p256", sdk.AlgECDSAP256),
		keystoreMustGenerate(t, ks, "kit-conc-ed", sdk.AlgEd25519),
		keystoreMustGenerate(t, ks, "kit-conc-rsa", sdk.AlgRSA2048),
	}
	const goroutines, perGoroutine = 64, 4
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				key := keys[(g+i)%len(keys)]
				msg := fmt.Appendf(nil, "goroutine %d signature %d", g, i)
				req := sdk.SignRequest{KeyID: key.ID, Digest: msg}
				if _, ok := key.PublicKey.(ed25519.PublicKey); !ok {
					d := sha256.Sum256(msg)
					req.Digest, req.Hash = d[:], crypto.SHA256
					req.PSS = i%2 == 1 && key.Algorithm == sdk.AlgRSA2048
					if req.PSS {
						req.SaltLength = rsa.PSSSaltLengthEqualsHash
					}
				}
				sig, err := ks.Sign(t.Context(), req)
				if err != nil {
					t.Errorf("concurrent Sign(%s): %v", key.ID, err)
					return
				}
				if err := VerifySignature(key.PublicKey, req.Digest, sig, req); err != nil {
					t.Errorf("concurrent Sign(%s): %v", key.ID, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// keystoreEcPEM returns a fresh SEC 1 PEM key on c.
func keystoreEcPEM(t *testing.T, c elliptic.Curve) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// VerifySignature checks sig as a KeyStore must have produced it for req
// (see sdk.SignRequest): PKCS #1 v1.5 or, with req.PSS, RSASSA-PSS for RSA
// keys; ASN.1 DER for ECDSA; pure Ed25519 over digest (req.Hash 0). It
// returns nil if the signature is valid, otherwise an error describing why
// not (including an unsupported public key type).
func VerifySignature(pub crypto.PublicKey, digest, sig []byte, req sdk.SignRequest) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if req.PSS {
			return rsa.VerifyPSS(k, req.Hash, digest, sig, &rsa.PSSOptions{SaltLength: req.SaltLength, Hash: req.Hash})
		}
		return rsa.VerifyPKCS1v15(k, req.Hash, digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case ed25519.PublicKey:
		if req.Hash != 0 {
			return fmt.Errorf("Ed25519 signatures are over the message, but Hash is %v", req.Hash)
		}
		if !ed25519.Verify(k, digest, sig) {
			return errors.New("Ed25519 signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}
