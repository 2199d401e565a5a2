package server

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

// oracle returns the path of the real CFSSL binary: $PKID_ORACLE_DIR or
// the repository's bin/. Missing: fail under CI=true, skip otherwise.
func oracle(t *testing.T, name string) string {
	t.Helper()
	return testtool.Oracle(t, name)
}

// runCFSSL runs the oracle in dir and returns its stdout.
func runCFSSL(t *testing.T, bin, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cfssl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes()
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// opensslVerify checks certPEM against caPEM with openssl when present.
func opensslVerify(t *testing.T, dir string, caPEM, certPEM []byte) {
	t.Helper()
	bin, ok := testtool.Find(t, "openssl")
	if !ok {
		t.Log("openssl not installed: verified with crypto/x509 only")
		return
	}
	caFile := writeFile(t, dir, "ca-verify.pem", caPEM)
	certFile := writeFile(t, dir, "cert-verify.pem", certPEM)
	out, err := exec.Command(bin, "verify", "-CAfile", caFile, certFile).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(": OK")) {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
}

func TestInteropCFSSLClient(t *testing.T) {
	bin := oracle(t, "cfssl")
	e := newEnv(t, plainConfig, nil)
	dir := t.TempDir()
	caPEM := []byte(pemOf(e.cas["primary"].Raw))
	remote := e.srv.URL // http://127.0.0.1:PORT

	csrJSON := writeFile(t, dir, "csr.json", []byte(`{"CN":"interop.example","hosts":["interop.example","127.0.0.1"],"key":{"algo":"ecdsa","size":256},"names":[{"C":"US","O":"Interop"}]}`))

	t.Run("gencert", func(t *testing.T) {
		out := runCFSSL(t, bin, dir, "gencert", "-remote", remote, "-profile", "server", csrJSON)
		var res struct{ Cert, CSR, Key string }
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		c := parsePEMCert(t, []byte(res.Cert))
		verifies(t, c, e.cas["primary"])
		if c.DNSNames[0] != "interop.example" || len(c.IPAddresses) != 1 {
			t.Errorf("SANs %v %v", c.DNSNames, c.IPAddresses)
		}
		opensslVerify(t, dir, caPEM, []byte(res.Cert))
		writeFile(t, dir, "csr.pem", []byte(res.CSR))
	})

	t.Run("sign", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(dir, "csr.pem")); err != nil {
			writeFile(t, dir, "csr.pem", makeCSR(t, "interop.example", "interop.example"))
		}
		out := runCFSSL(t, bin, dir, "sign", "-remote", remote, "-hostname", "signed.example, other.example", "csr.pem")
		var res struct{ Cert string }
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		c := parsePEMCert(t, []byte(res.Cert))
		verifies(t, c, e.cas["primary"])
		if strings.Join(c.DNSNames, ",") != "signed.example,other.example" {
			t.Errorf("SANs %q", c.DNSNames)
		}
		opensslVerify(t, dir, caPEM, []byte(res.Cert))
	})

	t.Run("info", func(t *testing.T) {
		out := runCFSSL(t, bin, dir, "info", "-remote", remote, "-label", "secondary", "-profile", "client")
		var res struct {
			Certificate string   `json:"certificate"`
			Usages      []string `json:"usages"`
			Expiry      string   `json:"expiry"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if c := parsePEMCert(t, []byte(res.Certificate)); !c.Equal(e.cas["secondary"]) {
			t.Errorf("info returned %s", c.Subject.CommonName)
		}
		if res.Expiry != "24h" || strings.Join(res.Usages, ",") != "digital signature,client auth" {
			t.Errorf("info: %s", out)
		}
	})

	t.Run("error passthrough", func(t *testing.T) {
		cmd := exec.Command(bin, "gencert", "-remote", remote, "-profile", "nope", csrJSON)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err == nil || !bytes.Contains(out, []byte("Unknown policy profile")) {
			t.Errorf("unknown profile through CFSSL: %v\n%s", err, out)
		}
	})
}

func TestInteropCFSSLAuthRemote(t *testing.T) {
	bin := oracle(t, "cfssl")
	e := newEnv(t, authConfig, nil)
	dir := t.TempDir()
	csrJSON := writeFile(t, dir, "csr.json", []byte(`{"CN":"auth.example","hosts":["auth.example"],"key":{"algo":"ecdsa","size":256}}`))
	client := func(keyHex string) string {
		return `{"signing":{"default":{"auth_remote":{"remote":"pkid","auth_key":"k"}},
		  "profiles":{"server":{"auth_remote":{"remote":"pkid","auth_key":"k"}}}},
		  "auth_keys":{"k":{"type":"standard","key":"` + keyHex + `"}},
		  "remotes":{"pkid":"` + e.srv.URL + `"}}`
	}
	writeFile(t, dir, "client.json", []byte(client(testAuthKeyHex)))
	out := runCFSSL(t, bin, dir, "gencert", "-config", "client.json", csrJSON)
	var res struct{ Cert string }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	c := parsePEMCert(t, []byte(res.Cert))
	verifies(t, c, e.cas["primary"])
	opensslVerify(t, dir, []byte(pemOf(e.cas["primary"].Raw)), []byte(res.Cert))

	// Named profile, and the previous key of the default profile.
	runCFSSL(t, bin, dir, "gencert", "-config", "client.json", "-profile", "server", csrJSON)
	writeFile(t, dir, "prev.json", []byte(client(testPrevKeyHex)))
	runCFSSL(t, bin, dir, "gencert", "-config", "prev.json", csrJSON)

	// A wrong key is refused.
	writeFile(t, dir, "bad.json", []byte(client("0badc0de0badc0de")))
	cmd := exec.Command(bin, "gencert", "-config", "bad.json", csrJSON)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil || !bytes.Contains(out, []byte("invalid token")) {
		t.Errorf("wrong key accepted: %v\n%s", err, out)
	}
}
