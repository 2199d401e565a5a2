package pluginhost_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
	"github.com/pkid/pkid/sdk/rpc"
)

func newHost(t testing.TB) *pluginhost.Host {
	t.Helper()
	h := pluginhost.New(pluginhost.Options{
		Logger:      hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Warn, Output: os.Stderr}),
		RestartWait: 15 * time.Second,
	})
	t.Cleanup(h.Close)
	return h
}

func builtin(t testing.TB, kind, typ string) pluginhost.Spec {
	f, ok := catalog.LookupBuiltin(kind, typ)
	if !ok {
		t.Fatalf("no builtin %s/%s", kind, typ)
	}
	return pluginhost.Spec{Kind: kind, Type: typ, New: f}
}

var instSeq atomic.Int64

func openKeyStore(t testing.TB, h *pluginhost.Host, inprocess bool) sdk.KeyStore {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"dir": filepath.Join(t.TempDir(), "keys"), "passphrase": "correct horse", "passphrase_file": nil, "kdf_work_factor": 10})
	inst, err := h.Open(context.Background(), pluginhost.OpenRequest{
		Spec: builtin(t, sdk.KindKeyStore, "file"), Name: fmt.Sprintf("ks%d", instSeq.Add(1)), Config: cfg, InProcess: inprocess,
	})
	if err != nil {
		t.Fatalf("open keystore: %v", err)
	}
	return inst.(sdk.KeyStore)
}

func openCertStore(t testing.TB, h *pluginhost.Host, inprocess bool) sdk.CertStore {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"path": filepath.Join(t.TempDir(), "pkid.db"), "busy_timeout": nil})
	inst, err := h.Open(context.Background(), pluginhost.OpenRequest{
		Spec: builtin(t, sdk.KindCertStore, "sqlite"), Name: fmt.Sprintf("cs%d", instSeq.Add(1)), Config: cfg, InProcess: inprocess,
	})
	if err != nil {
		t.Fatalf("open certstore: %v", err)
	}
	return inst.(sdk.CertStore)
}

// Both builtins pass the conformance kits out of process (the default) and
// in process, through the same host API.
func TestConformance(t *testing.T) {
	for _, inprocess := range []bool{false, true} {
		mode := map[bool]string{false: "process", true: "inprocess"}[inprocess]
		t.Run("keystore-file/"+mode, func(t *testing.T) {
			h := newHost(t)
			plugintest.TestKeyStore(t, func(t *testing.T) sdk.KeyStore { return openKeyStore(t, h, inprocess) })
			if !inprocess && len(h.Processes()) != 1 {
				t.Errorf("want one plugin process serving every instance, have %d", len(h.Processes()))
			}
		})
		t.Run("store-sqlite/"+mode, func(t *testing.T) {
			h := newHost(t)
			plugintest.TestCertStore(t, func(t *testing.T) sdk.CertStore { return openCertStore(t, h, inprocess) })
		})
	}
}

func signOnce(ctx context.Context, ks sdk.KeyStore, id string) error {
	sum := sha256.Sum256([]byte("hello"))
	_, err := ks.Sign(ctx, sdk.SignRequest{KeyID: id, Digest: sum[:], Hash: 5 /* crypto.SHA256 */})
	return err
}

// A plugin process killed with SIGKILL mid-use: in-flight calls fail fast
// with a retryable error, the host restarts the process and configures its
// instances again, and the next call succeeds.
func TestKillPluginMidUse(t *testing.T) {
	h := newHost(t)
	ks := openKeyStore(t, h, false)
	ctx := context.Background()
	k, err := ks.GenerateKey(ctx, sdk.GenerateKeyRequest{ID: "k", Algorithm: sdk.AlgECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	procs := h.Processes()
	if len(procs) != 1 {
		t.Fatalf("want 1 process, have %d", len(procs))
	}
	proc := procs[0]
	oldPid := proc.Pid()

	// Load: 16 goroutines signing until told to stop.
	var (
		stop      atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		failures  []error
		slowest   time.Duration
		succeeded atomic.Int64
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				start := time.Now()
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := signOnce(cctx, ks, "k")
				cancel()
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					if d := time.Since(start); d > slowest {
						slowest = d
					}
					mu.Unlock()
					return // one failure per goroutine is what we look at
				}
				succeeded.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if succeeded.Load() == 0 {
		t.Fatal("no signature succeeded before the kill")
	}
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	if len(failures) == 0 {
		t.Fatal("no call failed although the plugin was killed mid-use")
	}
	for _, err := range failures {
		if !errors.Is(err, sdk.ErrUnavailable) {
			t.Errorf("in-flight call failed with %v; want sdk.ErrUnavailable (retryable)", err)
		}
	}
	// A failing call returns within a bound: it never waits for a timeout.
	if slowest > 2*time.Second {
		t.Errorf("slowest failing call took %v; want < 2s", slowest)
	}

	// The next call succeeds after the automatic restart (the instance was
	// configured again: same keys, same directory).
	start := time.Now()
	if err := signOnce(ctx, ks, "k"); err != nil {
		t.Fatalf("sign after restart: %v", err)
	}
	t.Logf("kill→first successful call %v; in-flight failures %d, slowest %v", time.Since(killedAt), len(failures), slowest)
	if time.Since(start) > 10*time.Second {
		t.Errorf("recovery took %v", time.Since(start))
	}
	pub, err := ks.PublicKey(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !pub.PublicKey.(*ecdsa.PublicKey).Equal(k.PublicKey) {
		t.Error("key changed across restart")
	}
	if proc.Pid() == oldPid || proc.Restarts() != 1 {
		t.Errorf("pid %d→%d, restarts %d; want a new process and 1 restart", oldPid, proc.Pid(), proc.Restarts())
	}
}

// buildSamplePlugin builds examples/plugins/keystore-memory (its own
// module, built against the sdk only) into dir.
func buildSamplePlugin(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "pkid-plugin-memory")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = "../../examples/plugins/keystore-memory"
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the sample plugin: %v\n%s", err, b)
	}
	return out
}

func TestExternalPluginPinning(t *testing.T) {
	dir := t.TempDir()
	bin := buildSamplePlugin(t, dir)
	sum, err := pluginhost.FileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	spec := pluginhost.Spec{Kind: sdk.KindKeyStore, Type: "memory", Path: bin, SHA256: sum}

	t.Run("right sha256 works end to end", func(t *testing.T) {
		h := newHost(t)
		inst, err := h.Open(context.Background(), pluginhost.OpenRequest{Spec: spec, Name: "mem", Config: []byte(`{"max_keys":5}`)})
		if err != nil {
			t.Fatal(err)
		}
		ks := inst.(sdk.KeyStore)
		if _, err := ks.GenerateKey(context.Background(), sdk.GenerateKeyRequest{ID: "a", Algorithm: sdk.AlgECDSAP256}); err != nil {
			t.Fatal(err)
		}
		if err := signOnce(context.Background(), ks, "a"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("changed binary is refused", func(t *testing.T) {
		bad := spec
		bad.SHA256 = strings.Repeat("0", 64)
		h := newHost(t)
		_, err := h.Open(context.Background(), pluginhost.OpenRequest{Spec: bad, Name: "mem", Config: []byte(`{}`)})
		if !errors.Is(err, pluginhost.ErrChecksum) {
			t.Fatalf("err = %v; want ErrChecksum", err)
		}
		if !strings.Contains(err.Error(), `plugin "memory"`) || !strings.Contains(err.Error(), sum) {
			t.Errorf("error should name the plugin and the binary's real sha256: %v", err)
		}
	})

	t.Run("environment is an allowlist", func(t *testing.T) {
		t.Setenv("PKID_TEST_SECRET", "must-not-leak")
		h := newHost(t)
		proc, err := h.Process(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", proc.Pid()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(env), "must-not-leak") {
			t.Error("host environment leaked into the external plugin")
		}
		if !strings.Contains(string(env), rpc.Handshake.MagicCookieKey) {
			t.Error("plugin environment lacks the handshake cookie; /proc read the wrong process?")
		}
	})
}

func builtinNew(kind, typ string) func() sdk.Plugin {
	f, _ := catalog.LookupBuiltin(kind, typ)
	return f
}
