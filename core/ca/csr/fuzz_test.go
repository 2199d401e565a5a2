package csr

import (
	"bytes"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add(DefaultsJSON())
	f.Add([]byte(`{"CN":"c","ca":{"pathlen":1,"expiry":"1d2h","backdate":"5m"},"extensions":[{"Id":[1,2,3],"Value":"BQA="}]}`))
	f.Add([]byte(`{"names":[{"OID":{"1.2.3":"v"},"E":"a@b"}],"key":{"algo":"ed25519"},"hosts":["a","1.2.3.4","x@y","u:v"]}`))
	f.Add([]byte(`{"key":{"algo":"rsa","size":1e400}}`))
	if files, _ := filepath.Glob(filepath.Join("testdata", "subject", "*.json")); len(files) > 0 {
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || bytes.ContainsRune([]byte(err.Error()), '\n') {
				t.Fatalf("error not one ErrInvalid line: %q", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Parse accepted but Validate fails: %v", err)
		}
		if _, err := r.Subject(); err != nil {
			t.Fatalf("Parse accepted but Subject fails: %v", err)
		}
		ClassifyHosts(r.Hosts)
		if r.CA != nil {
			r.CA.MaxPathLen()
		}
	})
}

func FuzzParseCSR(f *testing.F) {
	key, err := DefaultKeyRequest().Generate()
	if err != nil {
		f.Fatal(err)
	}
	p, err := Generate(&Request{CN: "x", Hosts: []string{"a.b", "1.2.3.4"}, CA: &CAConfig{PathLength: 1}}, key)
	if err != nil {
		f.Fatal(err)
	}
	block, _ := pem.Decode(p)
	f.Add(p)
	f.Add(block.Bytes)
	f.Add([]byte("-----BEGIN NEW CERTIFICATE REQUEST-----\n-----END NEW CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseCSR(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedCSR) && !errors.Is(err, ErrCSRSignature) {
				t.Fatalf("error matches no sentinel: %v", err)
			}
			return
		}
		if req.CheckSignature() != nil {
			t.Fatal("accepted CSR with a bad signature")
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	for _, algo := range []string{"ecdsa", "ed25519"} {
		k, err := (&KeyRequest{algo, 256}).Generate()
		if err != nil {
			f.Fatal(err)
		}
		p, _ := EncodePrivateKey(k)
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKey(data)
		if err == nil && k == nil {
			t.Fatal("nil key without error")
		}
	})
}
