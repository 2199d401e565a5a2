package csr

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata golden files from the cfssl oracle")

// subjectCases are the testdata/subject/*.json requests. Their goldens were
// made once from CFSSL 1.6.5 (go test -run TestSubjectGolden -update):
// NAME.der.hex is the CSR's RawSubject, NAME.subject the output of
// `openssl req -noout -subject -nameopt RFC2253` on CFSSL's CSR.
func subjectCases(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "subject", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no subject cases: %v", err)
	}
	return files
}

// cfsslCSR runs `cfssl genkey` on a csr.json file and returns the CSR PEM.
func cfsslCSR(t *testing.T, cfssl string, args ...string) []byte {
	t.Helper()
	out := run(t, nil, cfssl, append([]string{"genkey"}, args...)...)
	var resp struct{ CSR string }
	if err := json.Unmarshal(out, &resp); err != nil || resp.CSR == "" {
		t.Fatalf("cfssl genkey %v: %v: %s", args, err, out)
	}
	return []byte(resp.CSR)
}

func opensslSubject(t *testing.T, csrPEM []byte) string {
	t.Helper()
	return strings.TrimSpace(string(run(t, csrPEM, opensslPath(t), "req", "-noout", "-subject", "-nameopt", "RFC2253")))
}

func TestSubjectGolden(t *testing.T) {
	if *update {
		cfssl := oracleCFSSL(t)
		for _, f := range subjectCases(t) {
			pemCSR := cfsslCSR(t, cfssl, f)
			req, err := ParseCSR(pemCSR)
			if err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(f, ".json")
			writeFile(t, base+".der.hex", []byte(hex.EncodeToString(req.RawSubject)+"\n"))
			writeFile(t, base+".subject", []byte(opensslSubject(t, pemCSR)+"\n"))
		}
	}
	key, err := DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range subjectCases(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			base := strings.TrimSuffix(f, ".json")
			r := parseFile(t, f)
			name, err := r.Subject()
			if err != nil {
				t.Fatal(err)
			}
			der, err := asn1.Marshal(name.ToRDNSequence())
			if err != nil {
				t.Fatal(err)
			}
			wantHex := strings.TrimSpace(string(readFile(t, base+".der.hex")))
			if got := hex.EncodeToString(der); got != wantHex {
				t.Errorf("subject DER\n got: %s\nwant: %s", got, wantHex)
			}
			csrPEM, err := Generate(r, key)
			if err != nil {
				t.Fatal(err)
			}
			req, err := ParseCSR(csrPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(req.RawSubject, der) {
				t.Errorf("CSR RawSubject differs from Subject()")
			}
			// A certificate issued for the CSR carries every attribute of
			// its subject (Go's field order may move postalCode, as in
			// CFSSL: core/cli's TestParitySubjectAndExtensions).
			issued, err := asn1.Marshal(CertificateSubject(req).ToRDNSequence())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := attributes(t, issued), attributes(t, der); !slices.Equal(got, want) {
				t.Errorf("CertificateSubject attributes\n got: %v\nwant: %v", got, want)
			}
			want := strings.TrimSpace(string(readFile(t, base+".subject")))
			if got := opensslSubject(t, csrPEM); got != want {
				t.Errorf("openssl subject\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

// attributes lists the attributes of a DER subject, sorted.
func attributes(t *testing.T, der []byte) []string {
	t.Helper()
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &rdns); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rdn := range rdns {
		for _, a := range rdn {
			out = append(out, fmt.Sprintf("%s=%v", a.Type, a.Value))
		}
	}
	slices.Sort(out)
	return out
}

// TestSubjectOracleLive compares with the installed CFSSL directly.
func TestSubjectOracleLive(t *testing.T) {
	cfssl := oracleCFSSL(t)
	for _, f := range subjectCases(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := ParseCSR(cfsslCSR(t, cfssl, f))
			if err != nil {
				t.Fatal(err)
			}
			name, err := parseFile(t, f).Subject()
			if err != nil {
				t.Fatal(err)
			}
			der, _ := asn1.Marshal(name.ToRDNSequence())
			if !bytes.Equal(der, want.RawSubject) {
				t.Errorf("subject differs from cfssl's:\n got: %x\nwant: %x", der, want.RawSubject)
			}
		})
	}
}

func TestSubjectOIDOrder(t *testing.T) {
	// CFSSL emits these in Go map order; pkid sorts them numerically.
	r := &Request{CN: "x", Names: []Name{{
		E:   "e@x",
		OID: map[string]string{"1.2.3.10": "f", "1.2.3.2": "b", "1.2.3.1": "a", "2.5.4.17": "z", "1.2.3.1.5": "c"},
	}}}
	name, err := r.Subject()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range name.ExtraNames {
		got = append(got, a.Type.String())
	}
	want := "1.2.3.1 1.2.3.1.5 1.2.3.2 1.2.3.10 2.5.4.17 1.2.840.113549.1.9.1"
	if strings.Join(got, " ") != want {
		t.Errorf("ExtraNames order = %v, want %s", got, want)
	}
	if _, err := (&Request{Names: []Name{{OID: map[string]string{"x": "y"}}}}).Subject(); err == nil {
		t.Error("Subject with bad OID: want error")
	}
}

func parseFile(t *testing.T, f string) *Request {
	t.Helper()
	r, err := Parse(readFile(t, f))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readFile(t *testing.T, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, f string, b []byte) {
	t.Helper()
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
