package cli

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCompatForwarding: forwarding profiles ("remote", "auth_remote") side
// by side. The real cfssl forwards to pkid serve and pkid forwards to the
// real cfssl serve, both as daemons (cfssl serve -config without -ca) and
// as the CLI (sign -config with a forwarding profile); a remote with the
// wrong auth key and an unreachable remote are the hostile cases.
func TestCompatForwarding(t *testing.T) {
	f := compatSetup(t)
	dir := t.TempDir()
	const key1 = "0123456789ABCDEF0123456789ABCDEF"
	upCfg := filepath.Join(dir, "up.json")
	os.WriteFile(upCfg, []byte(`{"signing": {"default": {"expiry": "168h", "usages": ["signing", "server auth"]},
  "profiles": {"authp": {"expiry": "24h", "usages": ["signing", "server auth"], "auth_key": "k1"},
    "guarded": {"expiry": "12h", "usages": ["signing", "client auth"]}}},
  "auth_keys": {"k1": {"type": "standard", "key": "`+key1+`"}}}`), 0o600)
	// Both upstreams run one command line.
	upArgs := []string{"serve", "-ca", f.vars["{ca.pem}"], "-ca-key", f.vars["{ca-key.pem}"], "-config", upCfg}
	ups, err := startAll([][]string{append([]string{oracle(t, "cfssl")}, upArgs...), append([]string{pkidBinary(t)}, upArgs...)})
	if err != nil {
		t.Fatal(err)
	}
	// Each forwarder's remote "up" is the other implementation.
	fwdCfg := func(side int) string {
		p := filepath.Join(dir, [...]string{"fwd-cfssl.json", "fwd-pkid.json"}[side])
		os.WriteFile(p, []byte(`{"signing": {"default": {"remote": "up"},
  "profiles": {"authp": {"auth_remote": {"remote": "up", "auth_key": "k1"}},
    "wrongkey": {"auth_remote": {"remote": "up", "auth_key": "k2"}},
    "dead": {"remote": "down"},
    "guarded": {"remote": "up", "auth_key": "k1"}}},
  "auth_keys": {"k1": {"type": "standard", "key": "`+key1+`"}, "k2": {"type": "standard", "key": "00000000000000000000000000000000"}},
  "remotes": {"up": "`+ups[1-side]+`", "down": "http://127.0.0.1:1"}}`), 0o600)
		return p
	}
	cfgs := [2]string{fwdCfg(cfsslSide), fwdCfg(pkidSide)}
	fwds, err := startAll([][]string{{oracle(t, "cfssl"), "serve", "-config", cfgs[0]}, {pkidBinary(t), "serve", "-config", cfgs[1]}})
	if err != nil {
		t.Fatal(err)
	}
	ff := &compatFixture{dir: f.dir, vars: f.vars, base: [2]string{fwds[0], fwds[1]},
		side: [2]map[string]string{{"{fwd}": cfgs[0]}, {"{fwd}": cfgs[1]}}}
	// Remotes announce where they are: certificates come from the other
	// implementation, so compareCerts must not take the pkid daemon's own
	// URLs for differences.
	// An authsign body for the guarded profile (its local key k1).
	csrPEM, err := os.ReadFile(f.vars["{leaf.csr}"])
	if err != nil {
		t.Fatal(err)
	}
	inner, _ := json.Marshal(map[string]string{"certificate_request": string(csrPEM), "profile": "guarded"})
	k1, _ := hex.DecodeString(key1)
	mac := hmac.New(sha256.New, k1)
	mac.Write(inner)
	for name, tok := range map[string][]byte{"{guarded.authsign}": mac.Sum(nil), "{guarded.forged}": make([]byte, sha256.Size)} {
		b, _ := json.Marshal(map[string]string{"token": base64.StdEncoding.EncodeToString(tok), "request": base64.StdEncoding.EncodeToString(inner)})
		ff.side[0][name], ff.side[1][name] = string(b), string(b)
	}
	saved := compatPkidBase
	compatPkidBase = ups[pkidSide]
	defer func() { compatPkidBase = saved }()
	for _, r := range []compatRow{
		{method: "POST", path: "sign", body: `{"certificate_request": {leaf.csr:json}, "profile": "authp"}`, mode: sameEnvelope},
		{method: "POST", path: "sign", body: `{"certificate_request": {leaf.csr:json}}`, mode: sameEnvelope, diff: "Authentication applies everywhere"},
		{method: "POST", path: "sign", body: `{"certificate_request": {leaf.csr:json}, "profile": "wrongkey"}`, mode: sameEnvelope},
		{method: "POST", path: "sign", body: `{"certificate_request": {leaf.csr:json}, "profile": "dead"}`, mode: sameEnvelope, diff: "Forwarding errors name the remote"},
		{method: "POST", path: "sign", body: `{"certificate_request": {leaf.csr:json}, "profile": "nosuch"}`, mode: sameEnvelope, diff: "Unknown profiles are errors"},
		{method: "POST", path: "info", body: `{"profile": "authp"}`, mode: sameResult},
		// A forwarding profile with its own auth_key: a plain sign is
		// refused before forwarding, authsign with its token forwards.
		{method: "POST", path: "sign", body: `{"certificate_request": {leaf.csr:json}, "profile": "guarded"}`, mode: sameEnvelope},
		// Both forwarders forward it; pkid as the upstream then wants
		// authentication for the plain sign it gets.
		{method: "POST", path: "authsign", body: `{guarded.authsign}`, mode: sameCert, diff: "Authentication applies everywhere"},
		{method: "POST", path: "authsign", body: `{guarded.forged}`, mode: sameEnvelope},
		{method: "POST", path: "newcert", body: `{"request": {"CN": "n.example.com", "hosts": ["n.example.com"]}, "profile": "guarded"}`, mode: sameEnvelope, diff: "Forwarding profiles are guarded by pkid's own policy"},
		{method: "POST", path: "info", body: `{"profile": "dead"}`, mode: sameEnvelope, diff: "Forwarding errors name the remote"},
		{method: "POST", path: "authsign", body: `{}`, mode: sameEnvelope, diff: "Unknown paths get an envelope"},
		{method: "POST", path: "newkey", body: `{"CN": "k.example.com"}`, mode: sameEnvelope},
		{method: "POST", path: "newcert", body: `{"request": {"CN": "n.example.com", "hosts": ["n.example.com"]}, "profile": "authp"}`, mode: sameEnvelope},
		{method: "POST", path: "newcert", body: `{"request": {"CN": "n.example.com"}, "profile": "authp"}`, mode: sameEnvelope},
		{method: "POST", path: "newcert", body: `{"request": {"CN": "n.example.com"}, "profile": "dead"}`, mode: sameEnvelope, diff: "Forwarding errors name the remote"},
		{tool: "cfssl", args: []string{"sign", "-config", "{fwd}", "-profile", "authp", "{leaf.csr}"}, mode: sameCert},
		{tool: "cfssl", args: []string{"gencert", "-config", "{fwd}", "-profile", "authp", "{leaf.json}"}, mode: sameCert},
		{tool: "cfssl", args: []string{"sign", "-config", "{fwd}", "-profile", "wrongkey", "{leaf.csr}"}, mode: sameExitCode},
		{tool: "cfssl", args: []string{"sign", "-config", "{fwd}", "-profile", "dead", "{leaf.csr}"}, mode: sameExitCode},
		{tool: "cfssl", args: []string{"info", "-config", "{fwd}", "-profile", "authp"}, mode: sameJSONKeys},
	} {
		t.Run(r.name(), func(t *testing.T) {
			var theirs, ours sideOutcome
			start := time.Now()
			if r.path != "" {
				theirs, ours = ff.http(t, r, cfsslSide), ff.http(t, r, pkidSide)
			} else {
				theirs, ours = ff.cli(t, r, cfsslSide), ff.cli(t, r, pkidSide)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
			// The certificates come from the other side's upstream: the
			// one pkid's forwarder returns was made by cfssl, so it goes
			// first (compareCerts normalises the pkid-made one).
			why := compareOutcomes(r.mode, ours, theirs)
			switch {
			case why == "" && r.diff != "":
				t.Errorf("same %s now, but the row names %q: drop it\ncfssl: %s\npkid:  %s", r.mode, r.diff, theirs, ours)
			case why != "" && r.diff == "":
				t.Errorf("%s differs: %s\ncfssl: %s\npkid:  %s", r.mode, why, theirs, ours)
			}
			// Failures name the remote: the name and URL over HTTP, the URL
			// on the command line; a CLI failure is one line.
			if strings.Contains(r.body, `"dead"`) && !strings.Contains(string(ours.stdout), `remote \"down\" (http://127.0.0.1:1)`) {
				t.Errorf("pkid's error does not name the remote: %s", ours.stdout)
			}
			if len(r.args) > 0 && ours.code != 0 {
				if !strings.Contains(ours.stderr, "127.0.0.1") || strings.Count(strings.TrimSpace(ours.stderr), "\n") != 0 {
					t.Errorf("pkid's CLI error: %q", ours.stderr)
				}
			}
		})
	}
}

// startAll starts serve command lines in parallel and returns their base
// URLs in order.
func startAll(argvs [][]string) ([]string, error) {
	type res struct {
		i    int
		base string
		err  error
	}
	ch := make(chan res, len(argvs))
	for i, argv := range argvs {
		go func() {
			b, err := startServe(argv)
			ch <- res{i, b, err}
		}()
	}
	out := make([]string, len(argvs))
	var first error
	for range argvs {
		r := <-ch
		out[r.i] = r.base
		if r.err != nil && first == nil {
			first = r.err
		}
	}
	return out, first
}
