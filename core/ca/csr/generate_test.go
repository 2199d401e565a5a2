package csr

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustKey(t *testing.T, algo string, size int) crypto.Signer {
	t.Helper()
	k, err := (&KeyRequest{algo, size}).Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGenerateOpenSSLVerify(t *testing.T) {
	openssl := opensslPath(t)
	tests := []struct {
		algo   string
		size   int
		sigAlg x509.SignatureAlgorithm
		osslSA string
	}{
		{"rsa", 2048, x509.SHA256WithRSA, "sha256WithRSAEncryption"},
		{"ecdsa", 256, x509.ECDSAWithSHA256, "ecdsa-with-SHA256"},
		{"ecdsa", 384, x509.ECDSAWithSHA384, "ecdsa-with-SHA384"},
		{"ecdsa", 521, x509.ECDSAWithSHA512, "ecdsa-with-SHA512"},
		{"ed25519", 0, x509.PureEd25519, "ED25519"},
	}
	r := &Request{
		CN:    "round.trip",
		Names: []Name{{C: "US", O: "pkid"}},
		Hosts: []string{"a.example", "192.0.2.1", "u@example.com", "spiffe://td/x"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.algo, tt.size), func(t *testing.T) {
			key := mustKey(t, tt.algo, tt.size)
			p, err := Generate(r, key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(p, []byte("-----BEGIN CERTIFICATE REQUEST-----\n")) {
				t.Errorf("PEM label: %q", p)
			}
			req, err := ParseCSR(p)
			if err != nil {
				t.Fatal(err)
			}
			if req.SignatureAlgorithm != tt.sigAlg {
				t.Errorf("SignatureAlgorithm = %v, want %v", req.SignatureAlgorithm, tt.sigAlg)
			}
			if fmt.Sprint(req.DNSNames, req.IPAddresses, req.EmailAddresses, req.URIs[0]) != "[a.example] [192.0.2.1] [u@example.com] spiffe://td/x" {
				t.Errorf("SANs = %v %v %v %v", req.DNSNames, req.IPAddresses, req.EmailAddresses, req.URIs)
			}
			out := run(t, p, openssl, "req", "-verify", "-noout", "-text")
			if !strings.Contains(string(out), "Signature Algorithm: "+tt.osslSA) {
				t.Errorf("openssl text lacks %s:\n%s", tt.osslSA, out)
			}
		})
	}
}

func TestSignatureAlgorithm(t *testing.T) {
	rsaOf := func(bits int) *rsa.PublicKey {
		return &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), uint(bits-1)), E: 65537}
	}
	tests := []struct {
		pub  crypto.PublicKey
		want x509.SignatureAlgorithm
	}{
		{rsaOf(2048), x509.SHA256WithRSA},
		{rsaOf(3071), x509.SHA256WithRSA},
		{rsaOf(3072), x509.SHA384WithRSA},
		{rsaOf(4095), x509.SHA384WithRSA},
		{rsaOf(4096), x509.SHA512WithRSA},
		{rsaOf(8192), x509.SHA512WithRSA},
		{"not a key", x509.UnknownSignatureAlgorithm},
	}
	for _, tt := range tests {
		if got := SignatureAlgorithm(tt.pub); got != tt.want {
			t.Errorf("SignatureAlgorithm(%T) = %v, want %v", tt.pub, got, tt.want)
		}
	}
}

type ext struct {
	id       string
	critical bool
	value    string
}

func extensionsOf(t *testing.T, csrPEM []byte) []ext {
	t.Helper()
	req, err := ParseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	var out []ext
	for _, e := range req.Extensions {
		out = append(out, ext{e.Id.String(), e.Critical, hex.EncodeToString(e.Value)})
	}
	return out
}

// TestGenerateExtensions checks requested extensions against what
// `cfssl genkey -initca` 1.6.5 writes (values taken from its CSRs).
func TestGenerateExtensions(t *testing.T) {
	key := mustKey(t, "ecdsa", 256)
	tests := []struct {
		name string
		json string
		want []ext
	}{
		{"no ca", `{"CN":"c"}`, nil},
		{"pathlen 0", `{"CN":"c","ca":{"pathlen":0}}`, []ext{{"2.5.29.19", true, "30030101ff"}}},
		{"empty ca", `{"CN":"c","ca":{}}`, []ext{{"2.5.29.19", true, "30030101ff"}}},
		{"pathlenzero", `{"CN":"c","ca":{"pathlen":0,"pathlenzero":true}}`, []ext{{"2.5.29.19", true, "30060101ff020100"}}},
		{"pathlen 2", `{"CN":"c","ca":{"pathlen":2,"pathlenzero":true}}`, []ext{{"2.5.29.19", true, "30060101ff020102"}}},
		{"pathlen -1", `{"CN":"c","ca":{"pathlen":-1}}`, []ext{{"2.5.29.19", true, "30030101ff"}}},
		{"delegation", `{"CN":"c","hosts":["a.b"],"delegation_enabled":true}`,
			[]ext{{"2.5.29.17", false, "30058203612e62"}, {"1.3.6.1.4.1.44363.44", false, "0500"}}},
		{"extension", `{"CN":"c","extensions":[{"Id":[1,2,3,4],"Critical":true,"Value":"BQA="}]}`,
			[]ext{{"1.2.3.4", true, "0500"}}},
		// CFSSL drops basicConstraints here (delegation resets the list); pkid keeps all.
		{"all", `{"CN":"c","hosts":["a.b"],"delegation_enabled":true,"ca":{"pathlen":1},"extensions":[{"Id":[1,2,3,4],"Value":"BQA="}]}`,
			[]ext{{"2.5.29.17", false, "30058203612e62"}, {"2.5.29.19", true, "30060101ff020101"},
				{"1.3.6.1.4.1.44363.44", false, "0500"}, {"1.2.3.4", false, "0500"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Generate(r, key)
			if err != nil {
				t.Fatal(err)
			}
			if got := extensionsOf(t, p); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("extensions\n got: %v\nwant: %v", got, tt.want)
			}
		})
	}
}

// TestGenerateOracleLive compares requested extensions and the signature
// algorithm with `cfssl genkey -initca` on the same csr.json.
func TestGenerateOracleLive(t *testing.T) {
	cfssl := oracleCFSSL(t)
	dir := t.TempDir()
	cases := []string{
		`{"CN":"c","hosts":["a.b","10.1.2.3","m@x.y","urn:x:y"],"ca":{"pathlen":1}}`,
		`{"CN":"c","ca":{"pathlen":0,"pathlenzero":true},"key":{"algo":"rsa","size":3072}}`,
		`{"CN":"c","ca":{},"key":{"algo":"ecdsa","size":384}}`,
		`{"CN":"c","ca":{"pathlen":3},"key":{"algo":"ed25519"},"extensions":[{"Id":[1,2,3,4],"Critical":true,"Value":"BQA="}]}`,
	}
	for i, js := range cases {
		f := filepath.Join(dir, fmt.Sprintf("c%d.json", i))
		if err := os.WriteFile(f, []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
		theirs := cfsslCSR(t, cfssl, "-initca", f)
		r, err := Parse([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		ours, err := Generate(r, mustKey(t, r.KeyRequest.Algo, r.KeyRequest.Size))
		if err != nil {
			t.Fatal(err)
		}
		if a, b := extensionsOf(t, ours), extensionsOf(t, theirs); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: extensions\n ours:  %v\ncfssl: %v", js, a, b)
		}
		a, _ := ParseCSR(ours)
		b, _ := ParseCSR(theirs)
		if a.SignatureAlgorithm != b.SignatureAlgorithm || !bytes.Equal(a.RawSubject, b.RawSubject) {
			t.Errorf("%s: sigalg/subject: ours %v %x, cfssl %v %x", js, a.SignatureAlgorithm, a.RawSubject, b.SignatureAlgorithm, b.RawSubject)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	key := mustKey(t, "ecdsa", 256)
	tests := []struct {
		r    *Request
		key  crypto.Signer
		want string
	}{
		{&Request{Hosts: []string{"a.b"}, Extensions: []Extension{{ID: []int{2, 5, 29, 17}, Value: []byte{0x30, 0}}}}, key,
			"csr: extension 2.5.29.17 requested twice"},
		{&Request{CA: &CAConfig{}, Extensions: []Extension{{ID: []int{2, 5, 29, 19}, Value: []byte{0x30, 0}}}}, key,
			"csr: extension 2.5.29.19 requested twice"},
		{&Request{KeyRequest: &KeyRequest{"rsa", 1}}, key, "csr: key: rsa size 1 not allowed"},
		{&Request{}, fakeSigner{key}, "csr: unsupported key type"},
	}
	for _, tt := range tests {
		_, err := Generate(tt.r, tt.key)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Generate(%+v) = %v, want %q", tt.r, err, tt.want)
		}
	}
	// A raw subjectAltName without hosts is fine.
	if _, err := Generate(&Request{Extensions: []Extension{{ID: []int{2, 5, 29, 17}, Value: []byte{0x30, 3, 0x82, 1, 'a'}}}}, key); err != nil {
		t.Errorf("raw SAN: %v", err)
	}
}

func (f fakeSigner) Public() crypto.PublicKey { return struct{}{} }

// TestEncodeMatchesCFSSL re-encodes CFSSL-written RSA and EC keys and gets
// the same bytes.
func TestEncodeMatchesCFSSL(t *testing.T) {
	for _, f := range []string{"cfssl-rsa-2048.pem", "cfssl-ecdsa-256.pem", "cfssl-ecdsa-384.pem"} {
		in := readFile(t, filepath.Join("testdata", "keys", f))
		k, err := ParsePrivateKey(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := EncodePrivateKey(k)
		if err != nil || !bytes.Equal(in, out) {
			t.Errorf("%s: re-encoded differs (%v):\n%s", f, err, out)
		}
	}
}

func TestParseCSR(t *testing.T) {
	key := mustKey(t, "ecdsa", 256)
	p, err := Generate(&Request{CN: "x"}, key)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(p)
	der := block.Bytes
	newLabel := pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der})
	certFirst := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), p...)
	for name, in := range map[string][]byte{
		"pem": p, "new label": newLabel, "der": der, "leading text": append([]byte("Subject: x\n"), p...), "other block first": certFirst,
	} {
		req, err := ParseCSR(in)
		if err != nil || req.Subject.CommonName != "x" {
			t.Errorf("ParseCSR(%s) = %v", name, err)
		}
	}
	tampered := bytes.Clone(der)
	tampered[len(tampered)-3] ^= 0xff
	badSig := bytes.Clone(der)
	// flip a byte of the CN inside the signed part
	i := bytes.Index(badSig, []byte{0x13, 0x01, 'x'})
	badSig[i+2] = 'y'
	tests := []struct {
		name string
		in   []byte
		is   error
		want string
	}{
		{"empty", nil, ErrMalformedCSR, "malformed CSR: empty input"},
		{"garbage", []byte("garbage"), ErrMalformedCSR, "malformed CSR: "},
		{"cert only", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ErrMalformedCSR, "malformed CSR: no CERTIFICATE REQUEST PEM block found"},
		{"trailing", append(bytes.Clone(der), 0), ErrMalformedCSR, "malformed CSR: "},
		{"signature", badSig, ErrCSRSignature, "CSR signature invalid: "},
		{"signature bytes", tampered, nil, ""},
	}
	for _, tt := range tests {
		_, err := ParseCSR(tt.in)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if tt.is == nil {
			if !errors.Is(err, ErrMalformedCSR) && !errors.Is(err, ErrCSRSignature) {
				t.Errorf("%s: %v matches neither sentinel", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, tt.is) || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
