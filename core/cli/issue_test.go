package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/internal/testtool"
)

// oracle returns the path of a real CFSSL tool (make test installs them
// into bin/). Under CI=true a missing oracle fails the test.
func oracle(t *testing.T, name string) string {
	t.Helper()
	return testtool.Oracle(t, name)
}

func opensslPath(t *testing.T) string {
	t.Helper()
	return testtool.Require(t, "openssl")
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func decodeResult(t *testing.T, r result) map[string]string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.HasSuffix(r.stdout, "}\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("output is not one JSON line: %q", r.stdout)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("output is not a JSON object of strings: %v", err)
	}
	return m
}

const caJSON = `{"CN": "pkid CLI test CA", "key": {"algo": "ecdsa", "size": 256},
  "names": [{"C": "US", "ST": "CA", "L": "San Francisco", "O": "pkid"}], "ca": {"pathlen": 1, "expiry": "87600h"}}`

const cfsslConfig = `{"signing": {"default": {"expiry": "168h"},
  "profiles": {"server": {"expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"]}}}}`

const leafJSON = `{"CN": "www.example.com", "hosts": ["www.example.com", "127.0.0.1"], "key": {"algo": "rsa", "size": 2048}}`

func TestGencertPipeline(t *testing.T) {
	openssl := opensslPath(t)
	cfssljson := oracle(t, "cfssljson")
	dir := t.TempDir()
	caCSR := writeFile(t, dir, "ca.json", caJSON)
	init := pkid(t, "gencert", "-initca", caCSR)
	m := decodeResult(t, init)
	for _, k := range []string{"cert", "csr", "key"} {
		if m[k] == "" {
			t.Fatalf("gencert -initca lacks %q", k)
		}
	}

	// cfssljson and pkid json split the same output identically.
	ours, theirs := filepath.Join(dir, "ours"), filepath.Join(dir, "theirs")
	os.MkdirAll(ours, 0o755)
	os.MkdirAll(theirs, 0o755)
	cmd := exec.Command(cfssljson, "-bare", "ca")
	cmd.Dir, cmd.Stdin = theirs, strings.NewReader(init.stdout)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cfssljson: %v %s", err, out)
	}
	t.Chdir(ours)
	if r := run([]string{"json", "-bare", "ca"}, &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, stdin: strings.NewReader(init.stdout)}); r != 0 {
		t.Fatalf("pkid json exit %d", r)
	}
	for _, f := range []string{"ca.pem", "ca-key.pem", "ca.csr"} {
		a, err1 := os.ReadFile(filepath.Join(ours, f))
		b, err2 := os.ReadFile(filepath.Join(theirs, f))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between pkid json and cfssljson (%v, %v)", f, err1, err2)
		}
	}

	caPEM, caKey := filepath.Join(ours, "ca.pem"), filepath.Join(ours, "ca-key.pem")
	cfg := writeFile(t, dir, "config.json", cfsslConfig)
	leaf := writeFile(t, dir, "leaf.json", leafJSON)
	m = decodeResult(t, pkid(t, "gencert", "-ca", caPEM, "-ca-key", caKey, "-config", cfg, "-profile", "server", leaf))
	leafPEM := writeFile(t, dir, "leaf.pem", m["cert"])
	out, err := exec.Command(openssl, "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", caPEM, leafPEM).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("openssl verify: %v %s", err, out)
	}
	text, _ := exec.Command(openssl, "x509", "-noout", "-text", "-in", leafPEM).CombinedOutput()
	for _, want := range []string{"DNS:www.example.com", "IP Address:127.0.0.1", "TLS Web Server Authentication", "CA:FALSE"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("leaf lacks %q", want)
		}
	}

	// -hostname wins over the request's hosts; sign takes a CSR from genkey.
	g := decodeResult(t, pkid(t, "genkey", leaf))
	csrFile := writeFile(t, dir, "leaf.csr", g["csr"])
	m = decodeResult(t, pkid(t, "sign", "-ca", caPEM, "-ca-key", caKey, "-config", cfg, "-profile", "server", "-hostname", "a.example.com, b.example.com", csrFile))
	signed := writeFile(t, dir, "signed.pem", m["cert"])
	text, _ = exec.Command(openssl, "x509", "-noout", "-ext", "subjectAltName", "-in", signed).CombinedOutput()
	if !strings.Contains(string(text), "DNS:a.example.com, DNS:b.example.com") || strings.Contains(string(text), "www.example.com") {
		t.Errorf("-hostname not applied: %s", text)
	}
}

// Keys and CSRs move between pkid and real CFSSL in both directions.
func TestCFSSLInterop(t *testing.T) {
	cfssl := oracle(t, "cfssl")
	openssl := opensslPath(t)
	dir := t.TempDir()
	caCSR := writeFile(t, dir, "ca.json", caJSON)
	m := decodeResult(t, pkid(t, "gencert", "-initca", caCSR))
	caPEM := writeFile(t, dir, "ca.pem", m["cert"])
	caKey := writeFile(t, dir, "ca-key.pem", m["key"])
	leaf := writeFile(t, dir, "leaf.json", leafJSON)

	// cfssl signs with pkid's CA key.
	cmd := exec.Command(cfssl, "gencert", "-ca", caPEM, "-ca-key", caKey, leaf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cfssl gencert with a pkid CA: %v", err)
	}
	var cm map[string]string
	json.Unmarshal(out, &cm)
	p := writeFile(t, dir, "by-cfssl.pem", cm["cert"])
	if o, err := exec.Command(openssl, "verify", "-CAfile", caPEM, p).CombinedOutput(); err != nil {
		t.Fatalf("verify cfssl-signed leaf: %v %s", err, o)
	}

	// pkid signs a CSR generated by cfssl genkey.
	out, err = exec.Command(cfssl, "genkey", leaf).Output()
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(out, &cm)
	csrFile := writeFile(t, dir, "cfssl.csr", cm["csr"])
	m = decodeResult(t, pkid(t, "sign", "-ca", caPEM, "-ca-key", caKey, csrFile))
	p = writeFile(t, dir, "by-pkid.pem", m["cert"])
	if o, err := exec.Command(openssl, "verify", "-CAfile", caPEM, p).CombinedOutput(); err != nil {
		t.Fatalf("verify pkid-signed leaf of a cfssl CSR: %v %s", err, o)
	}
}

func TestIssueErrors(t *testing.T) {
	dir := t.TempDir()
	m := decodeResult(t, pkid(t, "gencert", "-initca", writeFile(t, dir, "ca.json", caJSON)))
	caPEM := writeFile(t, dir, "ca.pem", m["cert"])
	caKey := writeFile(t, dir, "ca-key.pem", m["key"])
	other := decodeResult(t, pkid(t, "gencert", "-initca", writeFile(t, dir, "ca2.json", caJSON)))
	otherKey := writeFile(t, dir, "other-key.pem", other["key"])
	leaf := writeFile(t, dir, "leaf.json", leafJSON)
	cfg := writeFile(t, dir, "config.json", cfsslConfig)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"malformed csr.json", []string{"gencert", "-initca", writeFile(t, dir, "bad.json", `{"CN": "x", "key": {"algo": "rsa", "size": 1024}}`)}, "size"},
		{"not JSON", []string{"genkey", writeFile(t, dir, "bad2.json", `{"CN": `)}, "bad2.json"},
		{"unknown profile", []string{"gencert", "-ca", caPEM, "-ca-key", caKey, "-config", cfg, "-profile", "nope", leaf}, `"nope"`},
		{"key/cert mismatch", []string{"gencert", "-ca", caPEM, "-ca-key", otherKey, leaf}, "does not match"},
		{"unsupported algorithm", []string{"genkey", writeFile(t, dir, "bad3.json", `{"CN": "x", "key": {"algo": "dsa", "size": 2048}}`)}, "dsa"},
		{"malformed CSR", []string{"sign", "-ca", caPEM, "-ca-key", caKey, writeFile(t, dir, "junk.csr", "junk")}, "CSR"},
		{"missing -ca-key", []string{"gencert", "-ca", caPEM, leaf}, "-ca-key"},
		{"ca section outside initca", []string{"genkey", writeFile(t, dir, "ca-section.json", caJSON)}, "ca section only permitted in initca"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pkid(t, tc.args...)
			if r.code == 0 || r.stdout != "" {
				t.Fatalf("want failure and no output, got %+v", r)
			}
			first := strings.SplitN(strings.TrimSpace(r.stderr), "\n", 2)[0]
			// sign prints CFSSL's {"code","message"} line for coded errors.
			if !(strings.HasPrefix(first, "pkid: ") || strings.HasPrefix(first, `{"code":`)) || !strings.Contains(first, tc.want) {
				t.Errorf("want one line naming %q, got %q", tc.want, r.stderr)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
				t.Errorf("panic: %s", r.stderr)
			}
		})
	}
}

// selfsign: HOSTNAME sets the SANs (docs/differences-from-cfssl.md,
// "selfsign uses its HOSTNAME") and the certificate verifies
// against itself.
func TestSelfsign(t *testing.T) {
	openssl := opensslPath(t)
	dir := t.TempDir()
	r := pkid(t, "selfsign", "localhost,127.0.0.1", writeFile(t, dir, "s.json", `{"CN": "test"}`))
	m := decodeResult(t, r)
	if !strings.Contains(r.stderr, "testing only") {
		t.Errorf("no warning on stderr: %q", r.stderr)
	}
	p := writeFile(t, dir, "s.pem", m["cert"])
	text, _ := exec.Command(openssl, "x509", "-noout", "-ext", "subjectAltName", "-in", p).CombinedOutput()
	if !strings.Contains(string(text), "DNS:localhost, IP Address:127.0.0.1") {
		t.Errorf("SANs: %s", text)
	}
	if out, err := exec.Command(openssl, "verify", "-CAfile", p, p).CombinedOutput(); err != nil {
		t.Errorf("verify: %v %s", err, out)
	}
}
