package catalog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/pkid/pkid/core/audit"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// The builtin split keystore, with its audit_file pointed at the daemon's
// audit log, chains its key operations (ceremony, delegations, unlock,
// signature) into that log between the daemon's own records, and the
// daemon's checkpoint covers them.
func TestSplitKeystoreChainsIntoTheAuditLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	daemonLog, err := audit.Open(logPath, audit.Options{CheckpointKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	defer daemonLog.Close()
	if err := daemonLog.Append(ctx, audit.KindConfig, map[string]string{"test": "start"}); err != nil {
		t.Fatal(err)
	}

	p := newSplit()
	js, _ := json.Marshal(map[string]any{"state_dir": filepath.Join(dir, "split"), "audit_file": logPath, "poll_interval": "50ms"})
	inst, err := p.Configure(ctx, sdk.Config{Kind: sdk.KindKeyStore, Instance: "ops", JSON: js})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	ids := map[string]*age.X25519Identity{}
	var specs []string
	for _, name := range []string{"alice", "bob"} {
		id, _ := age.GenerateX25519Identity()
		ids[name] = id
		specs = append(specs, name+"="+id.Recipient().String())
		if err := os.WriteFile(filepath.Join(dir, name+".age"), []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := p.(sdk.Commander)
	run := func(args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		code, err := cmd.RunCommand(ctx, sdk.CommandRequest{Kind: sdk.KindKeyStore, Name: args[0], Args: args[1:], Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
		if err != nil || code != 0 {
			t.Fatalf("%v: %d %v %s", args, code, err, errb.String())
		}
	}
	run("ceremony", "-keystore", "ops", "-key", "k", "-m", "2", "-custodians", strings.Join(specs, ","))
	if err := daemonLog.Append(ctx, audit.KindIssuance, map[string]string{"serial": "1"}); err != nil {
		t.Fatal(err)
	}
	// A custodian delegates from a process of their own.
	for _, name := range []string{"alice", "bob"} {
		// The test binary is pkid under the plugin cookie (load_test.go's TestMain).
		c := exec.Command(os.Args[0], "keystore", "split", "delegate", "-dir", filepath.Join(dir, "split"), "-key", "k",
			"-custodian", name, "-for", "1h", "-uses", "3", "-purpose", "audit test", "-identity", filepath.Join(dir, name+".age"))
		c.Env = append(os.Environ(), rpc.Handshake.MagicCookieKey+"="+rpc.Handshake.MagicCookieValue)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("delegate %s: %v %s", name, err, out)
		}
	}
	digest := sha256.Sum256([]byte("tbs"))
	if _, err := inst.(sdk.KeyStore).Sign(ctx, sdk.SignRequest{KeyID: "k", Digest: digest[:], Hash: 5}); err != nil {
		t.Fatal(err)
	}
	if err := daemonLog.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := audit.Verify(ctx, f, audit.VerifyOptions{Key: pub})
	if err != nil || len(rep.Problems) != 0 || rep.Tail != 0 {
		t.Fatalf("chain with keystore records: %v %+v", err, rep)
	}
	b, _ := os.ReadFile(logPath)
	var events []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		r, ok, err := audit.ParseLine([]byte(line))
		if err != nil || !ok {
			t.Fatal(err)
		}
		if r.Kind != audit.KindKey {
			events = append(events, r.Kind)
			continue
		}
		var ev struct {
			Event    string `json:"event"`
			Keystore string `json:"keystore"`
		}
		if err := json.Unmarshal(r.Data, &ev); err != nil || ev.Keystore != "ops" {
			t.Fatalf("key record %s: %v", r.Data, err)
		}
		events = append(events, ev.Event)
	}
	want := "config key.ceremony issuance delegation.accepted delegation.accepted key.unlocked sign checkpoint"
	if got := strings.Join(events, " "); got != want {
		t.Fatalf("records: %s\nwant:    %s", got, want)
	}
}
