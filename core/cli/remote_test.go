package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/client"
	"github.com/pkid/pkid/internal/testtool"
)

const remoteKeyHex = "0123456789ABCDEF0123456789ABCDEF"

// remoteServerConfig is the CFSSL config of the test's cfssl serve: a
// plain profile and an authsign-only profile.
const remoteServerConfig = `{"signing": {"default": {"expiry": "168h", "usages": ["signing", "key encipherment", "server auth"]},
  "profiles": {
    "server": {"expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"]},
    "client": {"expiry": "720h", "usages": ["signing", "client auth"], "auth_key": "k"}}},
  "auth_keys": {"k": {"type": "standard", "key": "` + remoteKeyHex + `"}}}`

// freePort returns a 127.0.0.1 port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	p, err := testtool.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// cfsslServe makes a CA with the oracle, starts `cfssl serve` on
// 127.0.0.1 with remoteServerConfig and returns its address and the CA
// certificate file.
func cfsslServe(t *testing.T) (addr, caFile string) {
	t.Helper()
	cfssl := oracle(t, "cfssl")
	dir := t.TempDir()
	out, err := exec.Command(cfssl, "gencert", "-initca", writeFile(t, dir, "ca.json", caJSON)).Output()
	if err != nil {
		t.Fatalf("cfssl gencert -initca: %v", err)
	}
	var ca map[string]string
	if err := json.Unmarshal(out, &ca); err != nil {
		t.Fatal(err)
	}
	caFile = writeFile(t, dir, "ca.pem", ca["cert"])
	keyFile := writeFile(t, dir, "ca-key.pem", ca["key"])
	cfg := writeFile(t, dir, "config.json", remoteServerConfig)
	port := freePort(t)
	var logs bytes.Buffer
	cmd := exec.Command(cfssl, "serve", "-address", "127.0.0.1", "-port", strconv.Itoa(port),
		"-ca", caFile, "-ca-key", keyFile, "-config", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("cfssl serve output:\n%s", logs.String())
		}
	})
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/api/v1/cfssl/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, caFile
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("cfssl serve did not become healthy: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verifyLeaf checks certPEM against caFile with openssl for purpose.
func verifyLeaf(t *testing.T, openssl, caFile, certPEM, purpose string) *x509.Certificate {
	t.Helper()
	f := writeFile(t, t.TempDir(), "leaf.pem", certPEM)
	out, err := exec.Command(openssl, "verify", "-purpose", purpose, "-CAfile", caFile, f).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("openssl verify: %v %s", err, out)
	}
	block, _ := pem.Decode([]byte(certPEM))
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRemoteCFSSLServe(t *testing.T) {
	openssl := opensslPath(t)
	addr, caFile := cfsslServe(t)
	dir := t.TempDir()
	leaf := writeFile(t, dir, "leaf.json", leafJSON)

	t.Run("gencert", func(t *testing.T) {
		m := decodeResult(t, pkid(t, "gencert", "-remote", "http://"+addr, "-profile", "server", "-hostname", "a.example.com,b.example.com", leaf))
		if m["key"] == "" || !strings.Contains(m["csr"], "CERTIFICATE REQUEST") || len(m) != 3 {
			t.Fatalf("output keys: %v", m)
		}
		c := verifyLeaf(t, openssl, caFile, m["cert"], "sslserver")
		if strings.Join(c.DNSNames, ",") != "a.example.com,b.example.com" || c.Subject.CommonName != "www.example.com" {
			t.Errorf("SANs %v CN %q", c.DNSNames, c.Subject.CommonName)
		}
		if d := c.NotAfter.Sub(c.NotBefore); d < 8759*time.Hour || d > 8761*time.Hour {
			t.Errorf("validity %v, want the server profile's 8760h", d)
		}
	})

	g := decodeResult(t, pkid(t, "genkey", leaf))
	csrFile := writeFile(t, dir, "leaf.csr", g["csr"])

	t.Run("sign", func(t *testing.T) {
		// A bare host:port remote works, as does failover past a dead one.
		remote := fmt.Sprintf("127.0.0.1:%d,%s", freePort(t), addr)
		m := decodeResult(t, pkid(t, "sign", "-remote", remote, "-profile", "server", csrFile))
		if m["csr"] != g["csr"] || len(m) != 2 {
			t.Errorf("output: %v", m)
		}
		c := verifyLeaf(t, openssl, caFile, m["cert"], "sslserver")
		if strings.Join(c.DNSNames, ",") != "www.example.com" {
			t.Errorf("SANs %v, want the CSR's", c.DNSNames)
		}
		// The remote's errors come back as 7400 with its message and code.
		r := pkid(t, "sign", "-remote", addr, writeFile(t, dir, "bad.csr", "not a CSR"))
		if r.code != 1 || !strings.Contains(r.stderr, "7400") || !strings.Contains(r.stderr, "(code 9") {
			t.Errorf("bad CSR: exit %d %s", r.code, r.stderr)
		}
	})

	t.Run("info", func(t *testing.T) {
		r := pkid(t, "info", "-remote", "http://"+addr, "-profile", "server")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var info struct {
			Certificate string   `json:"certificate"`
			Expiry      string   `json:"expiry"`
			Usages      []string `json:"usages"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
			t.Fatal(err)
		}
		ca := strings.TrimSuffix(readFileT(t, caFile), "\n")
		if info.Certificate != ca {
			t.Errorf("certificate is not the CA without its trailing newline")
		}
		if info.Expiry != "8760h" || strings.Join(info.Usages, ",") != "signing,key encipherment,server auth" {
			t.Errorf("info %+v", info)
		}
		if !strings.HasPrefix(r.stdout, `{"certificate":`) || !strings.Contains(r.stdout, `","expiry":"8760h","usages":[`) {
			t.Errorf("key order: %s", r.stdout)
		}
	})

	t.Run("authsign", func(t *testing.T) {
		clientCfg := func(key string) string {
			return writeFile(t, t.TempDir(), "client.json", `{"signing": {
  "default": {"remote": "ca"},
  "profiles": {"client": {"auth_remote": {"remote": "ca", "auth_key": "k"}}}},
  "auth_keys": {"k": {"type": "standard", "key": "`+key+`"}},
  "remotes": {"ca": "127.0.0.1:`+strconv.Itoa(freePort(t))+`, http://`+addr+`"}}`)
		}
		// cfssl serve does not announce pkid's v2 tokens, so the client
		// sends CFSSL's format, which is what it verifies.
		if resp, err := http.Head("http://" + addr + "/api/v1/cfssl/authsign"); err != nil || resp.Header.Get(client.AuthVersionHeader) != "" {
			t.Fatalf("cfssl serve probe: %v %v", err, resp)
		} else {
			resp.Body.Close()
		}
		cfg := clientCfg(strings.ToLower(remoteKeyHex))
		m := decodeResult(t, pkid(t, "gencert", "-config", cfg, "-profile", "client", leaf))
		c := verifyLeaf(t, openssl, caFile, m["cert"], "sslclient")
		if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
			t.Errorf("EKU %v, want the client profile's", c.ExtKeyUsage)
		}
		m = decodeResult(t, pkid(t, "sign", "-config", cfg, "-profile", "client", csrFile))
		verifyLeaf(t, openssl, caFile, m["cert"], "sslclient")

		// -remote replaces the servers; the profile's key still applies.
		m = decodeResult(t, pkid(t, "sign", "-config", cfg, "-profile", "client", "-remote", addr, csrFile))
		verifyLeaf(t, openssl, caFile, m["cert"], "sslclient")

		// info follows the selected profile's remote, unauthenticated.
		r := pkid(t, "info", "-config", cfg, "-profile", "client")
		if r.code != 0 || !strings.Contains(r.stdout, `"expiry":"720h"`) {
			t.Errorf("info via auth_remote: exit %d %s %s", r.code, r.stdout, r.stderr)
		}
		// The default profile forwards plain sign.
		r = pkid(t, "info", "-config", cfg)
		if r.code != 0 || !strings.Contains(r.stdout, `"expiry":"168h"`) {
			t.Errorf("info via remote: exit %d %s %s", r.code, r.stdout, r.stderr)
		}
		m = decodeResult(t, pkid(t, "gencert", "-config", cfg, leaf))
		verifyLeaf(t, openssl, caFile, m["cert"], "sslserver")

		// Plain sign to an auth profile and a wrong key are refused.
		r = pkid(t, "sign", "-remote", addr, "-profile", "client", csrFile)
		if r.code != 1 || !strings.Contains(r.stderr, "7400") {
			t.Errorf("plain sign to an auth profile: exit %d %s", r.code, r.stderr)
		}
		wrong := hex.EncodeToString(bytes.Repeat([]byte{7}, 16))
		r = pkid(t, "sign", "-config", clientCfg(wrong), "-profile", "client", csrFile)
		if r.code != 1 || !strings.Contains(r.stderr, "7400") {
			t.Errorf("wrong key: exit %d %s", r.code, r.stderr)
		}
	})
}

func readFileT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRemoteResolve covers how -remote and a CFSSL -config pick the
// remote and the auth key.
func TestRemoteResolve(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.json", `{"signing": {"default": {"expiry": "1h"},
  "profiles": {"fwd": {"remote": "r"}, "auth": {"auth_remote": {"remote": "r", "auth_key": "k"}},
    "local": {"expiry": "1h", "usages": ["signing"], "auth_key": "k"}}},
  "auth_keys": {"k": {"type": "standard", "key": "`+remoteKeyHex+`"}},
  "remotes": {"r": "a:1,b:2"}}`)
	key, _ := hex.DecodeString(remoteKeyHex)
	for _, c := range []struct {
		profile, remote string
		want            string // "" = local
		auth            bool
	}{
		{"", "", "", false},
		{"fwd", "", "a:1,b:2", false},
		{"auth", "", "a:1,b:2", true},
		{"auth", "x:3", "x:3", true},
		{"local", "", "", false},
		{"local", "x:3", "x:3", true},
		{"unknown", "x:3", "x:3", false},
	} {
		cf := compatFlags{profile: c.profile, remote: c.remote, config: stringList{cfg}}
		tgt, err := resolveRemote(nil, &cf)
		if err != nil {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		if useRemote(&cf) != (c.want != "") {
			t.Errorf("%+v: useRemote = %v", c, !(c.want != ""))
		}
		switch {
		case c.want == "" && tgt != nil:
			t.Errorf("%+v: got remote %q, want local", c, tgt.remotes)
		case c.want != "" && (tgt == nil || tgt.remotes != c.want):
			t.Errorf("%+v: got %+v", c, tgt)
		case c.want != "" && c.auth != bytes.Equal(tgt.authKey, key):
			t.Errorf("%+v: auth key %x", c, tgt.authKey)
		}
	}
	if useRemote(&compatFlags{profile: "unknown", config: stringList{cfg}}) {
		t.Error("unknown profile without -remote resolved to a remote")
	}
	if useRemote(&compatFlags{config: stringList{filepath.Join(dir, "missing.json")}}) {
		t.Error("missing config resolved to a remote")
	}
	r := pkid(t, "sign", "-remote", "ftp://x", "-tls-remote-ca", filepath.Join(dir, "none.pem"), writeFile(t, dir, "x.csr", "x"))
	if r.code != 1 || !strings.Contains(r.stderr, "tls remote CA") {
		t.Errorf("bad -tls-remote-ca: exit %d %s", r.code, r.stderr)
	}
}
