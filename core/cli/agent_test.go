package cli

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pkid agent's mistakes are one line on stderr with a non-zero exit.
func TestAgentCommandErrors(t *testing.T) {
	dir := t.TempDir()
	// A port nothing listens on: one just released.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "agent.hcl")
	os.WriteFile(cfg, []byte(`agent {
  ca {
    url      = "https://`+closed+`"
    auth_key = "000102030405060708090a0b0c0d0e0f"
  }
}
certificate "a" {
  cn        = "a"
  cert_file = "`+dir+`/a.crt"
  key_file  = "`+dir+`/a.key"
}
`), 0o600)
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("agent {\n"), 0o600)
	spec := filepath.Join(dir, "s.json")
	os.WriteFile(spec, []byte(`{"request":{"CN":"x"},"certificate":{"path":"/x.pem"},"private_key":{"path":"/x.key"},"authority":{"remote":"ca:8888","auth_key":"000102030405060708090a0b0c0d0e0f"}}`), 0o600)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"agent"}, 1, "-config is required"},
		{[]string{"agent", "-config", cfg, "extra"}, 1, "unexpected arguments"},
		{[]string{"agent", "-config", filepath.Join(dir, "none.hcl")}, 1, "none.hcl"},
		{[]string{"agent", "-config", bad}, 1, "bad.hcl:"},
		{[]string{"agent", "-config", cfg}, 1, "remote https://" + closed + ": POST /api/v1/cfssl/info failed"},
		{[]string{"agent", "import-certmgr"}, 1, "needs one or more spec files"},
		{[]string{"agent", "import-certmgr", filepath.Join(dir, "none.json")}, 1, "none.json"},
	}
	for _, tc := range cases {
		r := pkid(t, tc.args...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != tc.code || !strings.HasPrefix(first, "pkid: ") || !strings.Contains(first, tc.want) {
			t.Errorf("pkid %v: exit %d, stderr %q; want exit %d and one line with %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	r := pkid(t, "agent", "import-certmgr", spec)
	if r.code != 0 || !strings.Contains(r.stdout, `url      = "https://ca:8888"`) || !strings.Contains(r.stdout, `certificate "s" {`) {
		t.Fatalf("import-certmgr: %d %q %q", r.code, r.stdout, r.stderr)
	}
}
