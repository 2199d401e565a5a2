package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/core/audit"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
)

// Two daemons (separate processes, each with its SQLite store plugin
// process) and the CLI append to one audit chain kept in the shared
// certstore; pkid audit verify reads it from there, finds it intact, and
// finds a record edited through the store.
func TestAuditCertStoreTwoNodes(t *testing.T) {
	cfg, dir := configuredCA(t)
	keyPath := filepath.Join(dir, "audit", "checkpoint.key")
	body := string(mustRead(t, cfg)) + fmt.Sprintf("\npkid {\n  audit_certstore = \"main\"\n  audit_checkpoint_key = %q\n}\n", keyPath)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// One checkpoint key for every node, made before they start.
	if _, err := audit.LoadOrCreateKey(keyPath); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"issuing", "legacy"} {
		if r := pkid(t, "ca", "init", "-config", cfg, "-ca", c, "-cn", c); r.code != 0 {
			t.Fatalf("ca init: %+v", r)
		}
	}
	nodes := []*daemon{
		startDaemon(t, "serve", "-config", cfg, "-listen", "127.0.0.1:0"),
		startDaemon(t, "serve", "-config", cfg, "-listen", "127.0.0.1:0"),
	}
	const each = 8
	bodies := signBodies(t, 2*each)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var serials []string
	for i, d := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range bodies[i*each : (i+1)*each] {
				resp, env, err := post(d.base, "sign", b)
				if err != nil || resp.StatusCode != 200 || !env.Success {
					t.Errorf("sign on node %d: %v %+v", i, err, env)
					return
				}
				c, _ := resultCert(env)
				mu.Lock()
				serials = append(serials, c.SerialNumber.String())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if r := pkid(t, "revoke", "-config", cfg, "-label", "issuing", "-serial", serials[0], "-reason", "keyCompromise"); r.code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	// A graceful stop signs a last checkpoint on each node.
	for _, d := range nodes {
		d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("daemon did not stop")
		}
	}

	r := pkid(t, "audit", "verify", "-config", cfg, "-key", keyPath+".pub")
	// 4 records of ca init, a config record per node, 16 issuances, 1
	// revocation, and at least one checkpoint.
	m := regexp.MustCompile(`(\d+) records, (\d+) valid checkpoints; verified through seq (\d+); unverified tail: 0 records`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || !strings.Contains(r.stdout, "OK: certstore main, chain pkid") {
		t.Fatalf("verify: %+v", r)
	}
	t.Logf("verify: %s", r.stdout)
	var records, checkpoints int
	fmt.Sscan(m[1], &records)
	fmt.Sscan(m[2], &checkpoints)
	if records-checkpoints != 4+2+2*each+1 || checkpoints < 1 {
		t.Errorf("%d records with %d checkpoints, want %d others", records, checkpoints, 4+2+2*each+1)
	}

	// Someone with write access to the store edits record 5.
	ctx := context.Background()
	st, err := storesqlite.Open(ctx, storesqlite.Options{Path: filepath.Join(dir, "pkid.db")})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%s/%020d", audit.DefaultChain, 5)
	doc, err := st.GetDoc(ctx, audit.DocKindRecord, id)
	if err != nil {
		t.Fatal(err)
	}
	var dl struct {
		Line string `json:"line"`
	}
	json.Unmarshal(doc.Data, &dl)
	edited := strings.Replace(dl.Line, `"kind":"`, `"kind":"x`, 1)
	doc.Data, _ = json.Marshal(map[string]string{"line": edited})
	if _, err := st.PutDoc(ctx, doc); err != nil {
		t.Fatal(err)
	}
	st.Close()
	r = pkid(t, "audit", "verify", "-config", cfg, "-key", keyPath+".pub")
	t.Logf("verify after the edit: %s", r.stdout)
	if r.code != 1 || !strings.Contains(r.stdout, "line 5 (seq 5): edited") || !strings.Contains(r.stdout, "TAMPERED: certstore main, chain pkid") {
		t.Errorf("verify after an edit: %+v", r)
	}
}
