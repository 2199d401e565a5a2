package daemon_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/devmode"
	"github.com/pkid/pkid/internal/ctlogtest"
)

// TestDaemonBundleSCTs: the bundle block's ct_log_list makes the bundle
// endpoint verify embedded SCTs: a certificate with SCTs from two real
// Sunlight logs, one of them in the list, gets "scts" with one verified
// and one unknown log, and a status message for the latter; one without
// SCTs gets no "scts". A list file that cannot be read stops the daemon
// at start, naming the attribute.
func TestDaemonBundleSCTs(t *testing.T) {
	dir := t.TempDir()
	req := &csr.Request{CN: "pkid daemon CT root", KeyRequest: csr.DefaultKeyRequest()}
	key, err := req.KeyRequest.Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(context.Background(), ca.InitCARequest{Request: req, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	a := ctlogtest.StartSunlight(t, ctlogtest.Config{Roots: []*x509.Certificate{root.Cert}, Name: "daemon-a"})
	b := ctlogtest.StartSunlight(t, ctlogtest.Config{Roots: []*x509.Certificate{root.Cert}, Name: "daemon-b"})
	profiles, err := profile.ParseCFSSL([]byte(`{"signing": {"default": {"expiry": "2160h", "usages": ["digital signature", "server auth"]}, "profiles": {"plain": {"expiry": "2160h", "usages": ["digital signature", "server auth"]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	profiles.Default.CT = &config.CTPolicy{RequiredSCTs: 2, RequiredOperators: 1, Timeout: 10 * time.Second,
		Logs: []*config.CTLog{{URL: a.URL, KeyDER: a.KeyDER, Operator: "A"}, {URL: b.URL, KeyDER: b.KeyDER, Operator: "B"}}}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "ct", Certificate: root.Cert, Signer: key, Profiles: profiles, SCTs: ct.NewSource(ct.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(prof string) string {
		lr := &csr.Request{CN: "www.example.com", Hosts: []string{"www.example.com"}, KeyRequest: csr.DefaultKeyRequest()}
		lk, _ := lr.KeyRequest.Generate()
		lcsr, _ := csr.Generate(lr, lk)
		c, err := iss.Sign(context.Background(), ca.SignRequest{CSR: lcsr, Profile: prof})
		if err != nil {
			t.Fatal(err)
		}
		return string(c.PEM())
	}
	withSCTs, plain := issue(""), issue("plain")
	rootsDir := filepath.Join(dir, "roots")
	os.MkdirAll(rootsDir, 0o755)
	os.WriteFile(filepath.Join(rootsDir, "root.pem"), root.PEM(), 0o644)
	id := sha256.Sum256(a.KeyDER)
	os.WriteFile(filepath.Join(dir, "logs.json"), []byte(fmt.Sprintf(`{"version": "1.0", "log_list_timestamp": "2026-12-01T00:00:00Z", "operators": [
  {"name": "A", "email": [], "logs": [{"description": "a", "log_id": %q, "key": %q, "url": %q, "mmd": 60, "state": {"usable": {"timestamp": "2026-01-01T00:00:00Z"}}}]}]}`,
		base64.StdEncoding.EncodeToString(id[:]), base64.StdEncoding.EncodeToString(a.KeyDER), a.URL)), 0o644)
	trust := `
trust "files" "ct" {
  isolation = "inprocess"
  roots     = ["` + rootsDir + `"]
}
`
	d, _, _ := startDaemon(t, loadDevWith(t, trust+`bundle {
  ct_log_list = "`+filepath.Join(dir, "logs.json")+`"
}
`))

	status, env, raw := postBundle(t, d.URL(), map[string]string{"certificate": withSCTs})
	if status != http.StatusOK || !env.Success {
		t.Fatalf("bundle: %d %s", status, raw)
	}
	var res struct {
		SCTs []struct {
			LogURL string `json:"log_url"`
			Result string `json:"result"`
		} `json:"scts"`
		Status struct {
			Messages []string `json:"messages"`
		} `json:"status"`
	}
	if err := json.Unmarshal(env.Result, &res); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range res.SCTs {
		got[s.Result] = s.LogURL
	}
	if len(res.SCTs) != 2 || got["verified"] != a.URL || got["unknown log"] != "" || len(got) != 2 {
		t.Errorf("scts %+v", res.SCTs)
	}
	if !strings.Contains(strings.Join(res.Status.Messages, "|"), "an SCT from a log not in the CT log list (log ID "+fmt.Sprintf("%x", sha256.Sum256(b.KeyDER))) {
		t.Errorf("messages %q", res.Status.Messages)
	}

	status, env, raw = postBundle(t, d.URL(), map[string]string{"certificate": plain})
	if status != http.StatusOK || strings.Contains(raw, `"scts"`) {
		t.Errorf("bundle without SCTs: %d %s", status, raw)
	}

	// A list that is not there: the daemon does not start.
	loaded := loadDevWith(t, trust+`bundle {
  ct_log_list = "missing.json"
}
`)
	_, err = daemon.New(context.Background(), loaded, daemon.Options{Listen: "127.0.0.1:0", Log: hclog.NewNullLogger(),
		Bootstrap: func(ctx context.Context, base string) error { return devmode.Bootstrap(ctx, loaded, base, io.Discard) }})
	if err == nil || !strings.Contains(err.Error(), "ct_log_list") || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("daemon with a missing ct_log_list: %v", err)
	}
}
