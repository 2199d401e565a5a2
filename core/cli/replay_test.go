package cli

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/client"
)

// A daemon profile with auth_replay_protection: pkid's client (gencert
// through an auth_remote profile) uses v2 tokens, which it accepts; a
// CFSSL-format token is refused naming the required format.
func TestRemoteReplayProtectedProfile(t *testing.T) {
	openssl := opensslPath(t)
	cfg, dir := configuredCA(t)
	const hexKey = "0123456789abcdef0123456789abcdef"
	body, _ := os.ReadFile(cfg)
	conf := strings.Replace(string(body), `    expiry = "90d"`, `    expiry = "90d"
    auth_key = "k"
    auth_replay_protection = true`, 1) + `
pkid {
  listen = "127.0.0.1:0"
  auth_key "k" {
    key = "` + hexKey + `"
  }
}
`
	os.WriteFile(cfg, []byte(conf), 0o600)
	for _, label := range []string{"issuing", "legacy"} {
		if r := pkid(t, "ca", "init", "-config", cfg, "-ca", label, "-algorithm", "ecdsa-p256", "-cn", label); r.code != 0 {
			t.Fatalf("ca init %s: %+v", label, r)
		}
	}
	d := startDaemon(t, "serve", "-config", cfg)

	clientCfg := writeFile(t, dir, "client.json", `{"signing": {"default": {"expiry": "1h"}, "profiles": {"server": {"auth_remote": {"remote": "pkid", "auth_key": "k"}}}},
  "auth_keys": {"k": {"type": "standard", "key": "`+hexKey+`"}}, "remotes": {"pkid": "`+d.base+`"}}`)
	leaf := writeFile(t, dir, "leaf.json", leafJSON)
	m := decodeResult(t, pkid(t, "gencert", "-config", clientCfg, "-label", "issuing", "-profile", "server", leaf))
	p := writeFile(t, dir, "v2signed.pem", m["cert"])
	if out, err := exec.Command(openssl, "verify", "-CAfile", filepath.Join(dir, "ca", "issuing.pem"), p).CombinedOutput(); err != nil {
		t.Fatalf("verify: %v %s", err, out)
	}

	// CFSSL's format for the same request is refused.
	g := decodeResult(t, pkid(t, "genkey", leaf))
	inner, _ := json.Marshal(client.SignRequest{Request: g["csr"], Profile: "server", Label: "issuing"})
	key, _ := hex.DecodeString(hexKey)
	wrapped, _ := json.Marshal(client.Wrap(key, inner, time.Now()))
	resp, err := http.Post(d.base+"/api/v1/cfssl/authsign", "application/json", bytes.NewReader(wrapped))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env envelope
	json.NewDecoder(resp.Body).Decode(&env)
	if resp.StatusCode != 400 || len(env.Errors) != 1 || !strings.Contains(env.Errors[0].Message, "requires the replay-resistant token format") {
		t.Errorf("CFSSL token on a v2 profile: %d %+v", resp.StatusCode, env)
	}
	if got := resp.Header.Get(client.AuthVersionHeader); got != client.AuthVersion {
		t.Errorf("daemon announces %q", got)
	}
}
