package cli

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/certinfo"
)

// certinfoFixtures are static certificates in testdata/certinfo; each has
// a golden file holding CFSSL 1.6.5's `certinfo -cert` output (rsa-pss:
// pkid's, see TestCertinfoMatchesCFSSL).
var certinfoFixtures = []string{"rsa-multi", "ecdsa-leaf", "ed25519", "ecdsa-extra-names", "rsa-pss"}

func fixture(name string) string { return filepath.Join("testdata", "certinfo", name) }

func TestCertinfoGolden(t *testing.T) {
	for _, name := range certinfoFixtures {
		t.Run(name, func(t *testing.T) {
			r := pkid(t, "certinfo", "-cert", fixture(name+".pem"))
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			golden(t, "certinfo/"+name, r.stdout)
		})
	}
}

// Live comparison with the oracle, on the fixtures and on certificates
// pkid issues now.
func TestCertinfoMatchesCFSSL(t *testing.T) {
	cfssl := oracle(t, "cfssl")
	dir := t.TempDir()
	m := decodeResult(t, pkid(t, "gencert", "-initca", writeFile(t, dir, "ca.json", caJSON)))
	caPEM := writeFile(t, dir, "ca.pem", m["cert"])
	caKey := writeFile(t, dir, "ca-key.pem", m["key"])
	m = decodeResult(t, pkid(t, "gencert", "-ca", caPEM, "-ca-key", caKey, writeFile(t, dir, "leaf.json", leafJSON)))
	leaf := writeFile(t, dir, "leaf.pem", m["cert"])

	files := []string{caPEM, leaf}
	for _, name := range certinfoFixtures {
		if name != "rsa-pss" { // CFSSL: "Unknown Signature"; pkid names RSA-PSS
			files = append(files, fixture(name+".pem"))
		}
	}
	for _, f := range files {
		want, err := exec.Command(cfssl, "certinfo", "-cert", f).Output()
		if err != nil {
			t.Fatalf("cfssl certinfo %s: %v", f, err)
		}
		if r := pkid(t, "certinfo", "-cert", f); r.code != 0 || r.stdout != string(want) {
			t.Errorf("%s: pkid and cfssl differ:\n--- pkid (exit %d, %s)\n%s\n--- cfssl\n%s", f, r.code, r.stderr, r.stdout, want)
		}
	}
	want, _ := exec.Command(cfssl, "certinfo", "-cert", fixture("rsa-pss.pem")).Output()
	got := pkid(t, "certinfo", "-cert", fixture("rsa-pss.pem")).stdout
	if strings.Replace(got, `"SHA256WithRSAPSS"`, `"Unknown Signature"`, 1) != string(want) {
		t.Errorf("rsa-pss differs beyond the sigalg name:\n%s\n%s", got, want)
	}
}

func TestCertinfoInputs(t *testing.T) {
	want := pkid(t, "certinfo", "-cert", fixture("ecdsa-leaf.pem")).stdout
	data, err := os.ReadFile(fixture("ecdsa-leaf.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	der := writeFile(t, t.TempDir(), "leaf.der", string(block.Bytes))
	if r := pkid(t, "certinfo", "-cert", der); r.code != 0 || r.stdout != want {
		t.Errorf("DER input: %+v", r)
	}
	var out strings.Builder
	code := run([]string{"certinfo", "-cert", "-"}, &env{stdout: &out, stderr: &out, stdin: strings.NewReader(string(data))})
	if code != 0 || out.String() != want {
		t.Errorf("stdin input: exit %d %s", code, out.String())
	}
}

func TestCertinfoCSR(t *testing.T) {
	r := pkid(t, "certinfo", "-csr", fixture("ecdsa-leaf.csr"))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "certinfo/ecdsa-leaf-csr", r.stdout)
	var got struct {
		Subject struct {
			CommonName string `json:"common_name"`
		} `json:"subject"`
		SANs         []string `json:"sans"`
		KeyAlgorithm string   `json:"key_algorithm"`
		KeySize      int      `json:"key_size"`
		SigAlg       string   `json:"sigalg"`
		Extensions   []struct {
			ID, Name string
			Critical bool
			Value    []byte
		} `json:"extensions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Subject.CommonName != "www.example.com" || got.KeyAlgorithm != "ECDSA" || got.KeySize != 256 ||
		got.SigAlg != "ECDSAWithSHA256" || strings.Join(got.SANs, " ") != "www.example.com api.example.com 192.0.2.7 2001:db8::1" ||
		len(got.Extensions) != 1 || got.Extensions[0].ID != "2.5.29.17" || got.Extensions[0].Name != "subjectAltName" {
		t.Errorf("unexpected CSR summary: %+v", got)
	}
}

func TestCertinfoDomain(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "https://")
	r := pkid(t, "certinfo", "-domain", addr)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got struct {
		Serial string `json:"serial_number"`
		PEM    string `json:"pem"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	leaf := ts.Certificate()
	if got.Serial != leaf.SerialNumber.String() || got.PEM != string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})) {
		t.Errorf("-domain returned another certificate: %s", r.stdout)
	}
	if cfssl := oracleIfPresent(t, "cfssl"); cfssl != "" {
		want, err := exec.Command(cfssl, "certinfo", "-domain", addr).Output()
		if err != nil || string(want) != r.stdout {
			t.Errorf("cfssl certinfo -domain differs (%v):\n%s", err, want)
		}
	}
	ts.Close()
	if r := pkid(t, "certinfo", "-domain", addr); r.code != 1 || !strings.Contains(r.stderr, "-domain "+addr) {
		t.Errorf("closed server: %+v", r)
	}
}

// oracleIfPresent is oracle without skipping: "" when not installed
// (outside CI).
func oracleIfPresent(t *testing.T, name string) string {
	t.Helper()
	var path string
	t.Run("oracle-"+name, func(t *testing.T) { path = oracle(t, name) })
	return path
}

func TestCertinfoSerial(t *testing.T) {
	cfg := devConfig(t, "")
	data, err := os.ReadFile(fixture("ecdsa-leaf.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := parseCertificatePEM(data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := (&configFlag{paths: stringList{cfg}}).load(&env{stdout: os.Stdout, stderr: os.Stderr}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CertStores["main"].Put(context.Background(), ca.Record(cert, "issuing", "", nil)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	aki := certinfo.KeyID(cert.AuthorityKeyId) // uppercase with colons: normalised

	r := pkid(t, "certinfo", "-serial", cert.SerialNumber.String(), "-aki", aki, "-config", cfg)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "certinfo/ecdsa-leaf", r.stdout)

	r = pkid(t, "certinfo", "-serial", "12345", "-aki", aki, "-config", cfg)
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); r.code != 1 || lines[len(lines)-1] != "pkid: no certificate found" {
		t.Errorf("unknown serial: %+v", r)
	}
	r = pkid(t, "certinfo", "-serial", "1", "-aki", aki, "-db-config", "db.json")
	if r.code != 1 || !strings.Contains(r.stderr, "-db-config") {
		t.Errorf("-db-config: %+v", r)
	}
}

func TestCertinfoErrors(t *testing.T) {
	dir := t.TempDir()
	a, _ := os.ReadFile(fixture("rsa-multi.pem"))
	b, _ := os.ReadFile(fixture("ed25519.pem"))
	chain := writeFile(t, dir, "chain.pem", string(a)+string(b))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"certinfo"}, 1, "-cert, -csr, -domain"},
		{[]string{"certinfo", "-serial", "1"}, 1, "-cert, -csr, -domain"},
		{[]string{"certinfo", "-cert", chain}, 1, "only one certificate"},
		{[]string{"certinfo", "-cert", filepath.Join(dir, "missing.pem")}, 1, "missing.pem"},
		{[]string{"certinfo", "-cert", writeFile(t, dir, "junk", "junk")}, 1, "not a PEM or DER certificate"},
		{[]string{"certinfo", "-csr", fixture("ecdsa-leaf.pem")}, 1, "CSR"},
	} {
		r := pkid(t, tc.args...)
		if r.code != tc.code || r.stdout != "" || !strings.HasPrefix(r.stderr, "pkid: ") || !strings.Contains(strings.SplitN(r.stderr, "\n", 2)[0], tc.want) {
			t.Errorf("%v: want exit %d and one line naming %q; got %+v", tc.args, tc.code, tc.want, r)
		}
	}
}

func TestCertinfoFixturesParse(t *testing.T) {
	// Guards the fixtures themselves: each is one parsable certificate.
	for _, name := range certinfoFixtures {
		data, err := os.ReadFile(fixture(name + ".pem"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseOneCertificate(data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
