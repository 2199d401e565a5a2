package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/agent"
)

const goodCA = `agent {
  ca {
    url      = "https://ca.internal:8888"
    auth_key = "000102030405060708090a0b0c0d0e0f"
  }
}
`

const goodCert = `certificate "a" {
  cn        = "a.internal"
  cert_file = "/tmp/a.crt"
  key_file  = "/tmp/a.key"
}
`

// Every configuration mistake is one clear error naming the problem (and
// the position, for HCL's own errors).
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, body, want string }{
		{"syntax", "agent {\n  ca {", "agent.hcl:2"},
		{"unknown attribute", goodCA + strings.Replace(goodCert, "cn ", "colour = \"red\"\n  cn ", 1), `Unsupported argument; An argument named "colour"`},
		{"no agent block", goodCert, `Missing agent block`},
		{"no url", strings.Replace(goodCA, `url      = "https://ca.internal:8888"`, "", 1) + goodCert, `"url" is required`},
		{"plain http", strings.Replace(goodCA, "https://", "http://", 1) + goodCert, "needs https"},
		{"no auth key", strings.Replace(goodCA, `auth_key = "000102030405060708090a0b0c0d0e0f"`, "", 1) + goodCert, "no auth_key"},
		{"short auth key", strings.Replace(goodCA, "000102030405060708090a0b0c0d0e0f", "00ff", 1) + goodCert, "at least 16 bytes"},
		{"both auth keys", strings.Replace(goodCA, "auth_key =", "auth_key_file = \"/nonexistent\"\n    auth_key =", 1) + goodCert, "exclusive"},
		{"no certificate", goodCA, "no certificate block"},
		{"no names", goodCA + strings.Replace(goodCert, `cn        = "a.internal"`, "", 1), "neither cn nor hosts"},
		{"same file twice", goodCA + goodCert + strings.Replace(strings.Replace(goodCert, `"a"`, `"b"`, 1), "/tmp/a.crt", "/tmp/b.crt", 1), "also written by certificate"},
		{"bad mode", goodCA + strings.Replace(goodCert, "cn ", "key_mode = \"rw-r-----\"\n  cn ", 1), "want octal"},
		{"mode too wide", goodCA + strings.Replace(goodCert, "cn ", "key_mode = \"04755\"\n  cn ", 1), "want octal"},
		{"bad key", goodCA + strings.Replace(goodCert, "cn ", "key_algo = \"dsa\"\n  key_size = 1024\n  cn ", 1), "key_algo"},
		{"tiny rsa", goodCA + strings.Replace(goodCert, "cn ", "key_algo = \"rsa\"\n  key_size = 512\n  cn ", 1), "key_algo"},
		{"two reload actions", goodCA + strings.Replace(goodCert, "}\n", "  reload {\n    command = [\"true\"]\n    systemd_unit = \"x\"\n  }\n}\n", 1), "exactly one"},
		{"signal without pid file", goodCA + strings.Replace(goodCert, "}\n", "  reload {\n    signal = \"HUP\"\n  }\n}\n", 1), "go together"},
		{"unknown signal", goodCA + strings.Replace(goodCert, "}\n", "  reload {\n    signal = \"KILLALL\"\n    pid_file = \"/run/x.pid\"\n  }\n}\n", 1), "unknown signal"},
		{"bad timeout", goodCA + strings.Replace(goodCert, "}\n", "  reload {\n    command = [\"true\"]\n    timeout = \"soon\"\n  }\n}\n", 1), "reload timeout"},
		{"bad backoff", strings.Replace(goodCA, "  ca {", "  min_backoff = \"fast\"\n  ca {", 1) + goodCert, "backoff"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "agent.hcl")
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := agent.Load(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
	if _, err := agent.Load(filepath.Join(dir, "missing.hcl")); err == nil {
		t.Fatal("a missing file loaded")
	}
	p := filepath.Join(dir, "ok.hcl")
	os.WriteFile(p, []byte(goodCA+goodCert), 0o600)
	if _, err := agent.Load(p); err != nil {
		t.Fatalf("good configuration: %v", err)
	}
}

func TestImportCertmgr(t *testing.T) {
	dir := t.TempDir()
	spec := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	web := spec("www.json", `{
  "service": "nginx", "action": "reload", "svcmgr": "systemd",
  "request": {"CN": "www.example.net", "hosts": ["www.example.net", "10.0.0.1"], "key": {"algo": "ecdsa", "size": 256}},
  "private_key": {"path": "/etc/tls/www.key", "owner": "www-data", "group": "www-data", "mode": "0600"},
  "certificate": {"path": "/etc/tls/www.pem", "owner": "www-data", "group": "www-data"},
  "authority": {"remote": "ca.example.net:8888", "auth_key": "0123456789abcdef0123456789abcdef", "label": "www_ca",
    "profile": "three-month", "root_ca": "/etc/cfssl/api_server_ca.pem", "file": {"path": "/etc/tls/ca.pem"}}
}`)
	api := spec("api.json", `{
  "service": "/usr/local/bin/api-reload --graceful", "action": "restart", "svcmgr": "command",
  "request": {"CN": "api.example.net", "hosts": ["api.example.net"], "key": {"algo": "rsa", "size": 2048}},
  "private_key": {"path": "/etc/tls/api.key"},
  "certificate": {"path": "/etc/tls/api.pem"},
  "authority": {"remote": "ca.example.net:8888", "auth_key": "0123456789abcdef0123456789abcdef", "label": "www_ca", "profile": "client"}
}`)
	out, err := agent.ImportCertmgr([]string{web, api})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "certmgr.hcl")
	if os.Getenv("PKID_UPDATE_GOLDEN") != "" {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, out, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (PKID_UPDATE_GOLDEN=1 writes it)", err)
	}
	if string(out) != string(want) {
		t.Fatalf("import differs from %s:\n%s", golden, out)
	}
	// The output is a configuration the agent loads.
	p := filepath.Join(dir, "agent.hcl")
	os.WriteFile(p, out, 0o600)
	cfg, err := agent.Load(p)
	if err != nil {
		t.Fatalf("imported configuration does not load: %v\n%s", err, out)
	}
	if len(cfg.Certificates) != 2 || cfg.Certificates[1].Profile != "client" || cfg.Certificates[0].Reload.SystemdUnit != "nginx" ||
		strings.Join(cfg.Certificates[1].Reload.Command, " ") != "/bin/sh -c /usr/local/bin/api-reload --graceful" {
		t.Fatalf("imported: %+v", cfg.Certificates)
	}

	// The same spec in YAML (certmgr reads both, with the JSON keys).
	apiYAML := spec("api.yaml", `service: /usr/local/bin/api-reload --graceful
action: restart
svcmgr: command
request:
  CN: api.example.net
  hosts: [api.example.net]
  key: {algo: rsa, size: 2048}
private_key: {path: /etc/tls/api.key}
certificate: {path: /etc/tls/api.pem}
authority: {remote: "ca.example.net:8888", auth_key: 0123456789abcdef0123456789abcdef, label: www_ca, profile: client}
`)
	outYAML, err := agent.ImportCertmgr([]string{web, apiYAML})
	if err != nil || string(outYAML) != string(out) {
		t.Fatalf("YAML spec: %v\n%s\nwant\n%s", err, outYAML, out)
	}

	bad := []struct{ name, body, want string }{
		{"x.json", `{`, "not a certmgr JSON spec"},
		{"x.yaml", "request: [", "not a certmgr YAML spec"},
		{"nocn.yaml", "request: {}\nauthority: {remote: a}\n", "no request"},
		{"nocn.json", `{"request": {}, "authority": {"remote": "a"}}`, "no request"},
		{"nofiles.json", `{"request": {"CN": "a"}, "authority": {"remote": "a", "file": {"path": "/ca.pem"}}}`, "certificate.path and private_key.path"},
		{"noremote.json", `{"request": {"CN": "a"}, "certificate": {"path": "/a"}, "private_key": {"path": "/k"}}`, "no authority.remote"},
		{"action.json", `{"request": {"CN": "a"}, "certificate": {"path": "/a"}, "private_key": {"path": "/k"}, "authority": {"remote": "a"}, "action": "explode", "service": "x"}`, `action "explode"`},
		{"svcmgr.json", `{"request": {"CN": "a"}, "certificate": {"path": "/a"}, "private_key": {"path": "/k"}, "authority": {"remote": "a"}, "action": "reload", "service": "x", "svcmgr": "circus"}`, `svcmgr "circus"`},
	}
	for _, b := range bad {
		if _, err := agent.ImportCertmgr([]string{spec(b.name, b.body)}); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: want %q, got %v", b.name, b.want, err)
		}
	}
	other := spec("other.json", strings.Replace(mustRead(t, api), "ca.example.net:8888", "ca2.example.net:8888", 1))
	if _, err := agent.ImportCertmgr([]string{web, other}); err == nil || !strings.Contains(err.Error(), "one agent configuration per CA") {
		t.Errorf("two CAs: %v", err)
	}
	big := spec("big.json", `{"service":"`+strings.Repeat("x", 1<<20)+`"}`)
	if _, err := agent.ImportCertmgr([]string{big}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized spec: %v", err)
	}
	if _, err := agent.ImportCertmgr(nil); err == nil {
		t.Error("no files: no error")
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
