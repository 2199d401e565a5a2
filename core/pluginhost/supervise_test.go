package pluginhost_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// The plugin process (keystore, certstore) is killed 10 times while 16
// callers sign or store without pause. Supervision has one owner per
// process: exactly one restart per kill, no double close of the ready
// channel (the audit's panic), no late restart killing a fresh process. Every call succeeds or fails with the
// retryable sdk.ErrUnavailable, and the process serves again at the end.
func TestRepeatedKillsUnderLoad(t *testing.T) {
	var serial atomic.Int64
	for _, tc := range []struct {
		kind string
		open func(t *testing.T, h *pluginhost.Host) func(context.Context) error
	}{
		{sdk.KindKeyStore, func(t *testing.T, h *pluginhost.Host) func(context.Context) error {
			ks := openKeyStore(t, h, false)
			if _, err := ks.GenerateKey(context.Background(), sdk.GenerateKeyRequest{ID: "k", Algorithm: sdk.AlgECDSAP256}); err != nil {
				t.Fatal(err)
			}
			return func(ctx context.Context) error { return signOnce(ctx, ks, "k") }
		}},
		{sdk.KindCertStore, func(t *testing.T, h *pluginhost.Host) func(context.Context) error {
			cs := openCertStore(t, h, false)
			return func(ctx context.Context) error {
				return cs.Put(ctx, plugintest.NewCertRecord(serial.Add(1), "ab", "i", time.Now()))
			}
		}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			h := newHost(t)
			repeatedKills(t, h, tc.open(t, h))
		})
	}
}

func repeatedKills(t *testing.T, h *pluginhost.Host, op func(context.Context) error) {
	const callers, kills = 16, 10
	ctx := context.Background()
	proc := h.Processes()[0]

	var (
		stop      atomic.Bool
		wg        sync.WaitGroup
		succeeded atomic.Int64
		failed    atomic.Int64
		mu        sync.Mutex
		bad       []error
	)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := op(cctx)
				cancel()
				switch {
				case err == nil:
					succeeded.Add(1)
				case errors.Is(err, sdk.ErrUnavailable):
					failed.Add(1)
				default:
					mu.Lock()
					bad = append(bad, err)
					mu.Unlock()
				}
			}
		}()
	}
	// waitServing waits until the process has a new pid and calls succeed
	// on it again.
	waitServing := func(oldPid int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		base := succeeded.Load()
		for proc.Pid() == oldPid || proc.Pid() == 0 || succeeded.Load() < base+callers {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("the plugin does not serve again (pid %d, was %d; restarts %d; status %+v)",
					proc.Pid(), oldPid, proc.Restarts(), proc.Status())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitServing(0)
	for range kills {
		pid := proc.Pid()
		if err := proc.Kill(); err != nil {
			t.Fatal(err)
		}
		waitServing(pid)
	}
	stop.Store(true)
	wg.Wait()

	for _, err := range bad {
		t.Errorf("call failed with %v; want success or sdk.ErrUnavailable", err)
	}
	if got := proc.Restarts(); got != kills {
		t.Errorf("restarts = %d; want exactly one per kill (%d)", got, kills)
	}
	if failed.Load() == 0 {
		t.Error("no call failed although the plugin was killed under load")
	}
	if err := op(ctx); err != nil {
		t.Fatalf("call after the last restart: %v", err)
	}
	if st := proc.Status(); st.State != "running" || st.LastError != "" {
		t.Errorf("status after recovery = %+v; want running with no error", st)
	}
	t.Logf("%d calls succeeded, %d retryable failures, %d restarts", succeeded.Load(), failed.Load(), proc.Restarts())
}

// A process that cannot restart (its keystore's key file is corrupt) is
// reported as restarting with the cause, its calls fail with a retryable
// error naming the instance, and it serves again once the cause is fixed.
func TestStatusWhileRestartFails(t *testing.T) {
	h := newHost(t)
	dir := filepath.Join(t.TempDir(), "keys")
	cfg, _ := json.Marshal(map[string]any{"dir": dir, "passphrase": "correct horse", "kdf_work_factor": 10})
	inst, err := h.Open(context.Background(), pluginhost.OpenRequest{Spec: builtin(t, sdk.KindKeyStore, "file"), Name: "corrupt", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ks := inst.(sdk.KeyStore)
	ctx := context.Background()
	if _, err := ks.GenerateKey(ctx, sdk.GenerateKeyRequest{ID: "k", Algorithm: sdk.AlgECDSAP256}); err != nil {
		t.Fatal(err)
	}
	proc := h.Processes()[0]
	if st := proc.Status(); st.State != pluginhost.StateRunning || proc.Check(ctx) != nil {
		t.Fatalf("fresh process: %+v", st)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	saved := map[string][]byte{}
	for _, f := range files {
		saved[f], _ = os.ReadFile(f)
		if err := os.WriteFile(f, []byte("corrupt"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for proc.Status().LastError == "" {
		if time.Now().After(deadline) {
			t.Fatalf("status never reports the failed restart: %+v", proc.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := proc.Status(); st.State != pluginhost.StateRestarting || !strings.Contains(st.LastError, `instance "corrupt"`) {
		t.Errorf("status = %+v; want restarting with the reconfiguration error", st)
	}
	if err := proc.Check(ctx); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("Check = %v; want ErrUnavailable", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = signOnce(cctx, ks, "k")
	var ie *pluginhost.InstanceError
	if !errors.Is(err, sdk.ErrUnavailable) || !errors.As(err, &ie) || ie.Part() != `keystore "corrupt"` {
		t.Errorf("sign while the keystore cannot restart: %v; want ErrUnavailable naming keystore \"corrupt\"", err)
	}

	for f, b := range saved {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for proc.Status().State != pluginhost.StateRunning {
		if time.Now().After(deadline.Add(15 * time.Second)) {
			t.Fatalf("the process does not come back once the key file is fixed: %+v", proc.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := signOnce(ctx, ks, "k"); err != nil {
		t.Errorf("sign after recovery: %v", err)
	}
}

// Reads work on a full disk, so a certstore's health comes from its writes:
// Check fails with the cause while the last write failed retryably, and
// passes again after a successful write.
func TestCertStoreCheckFollowsWrites(t *testing.T) {
	dir := testtool.SmallDisk(t, 1<<20)
	h := newHost(t)
	cfg, _ := json.Marshal(map[string]any{"path": filepath.Join(dir, "pkid.db"), "busy_timeout": nil})
	inst, err := h.Open(context.Background(), pluginhost.OpenRequest{Spec: builtin(t, sdk.KindCertStore, "sqlite"), Name: "full", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	cs := inst.(sdk.CertStore)
	check := inst.(interface{ Check(context.Context) error }).Check
	ctx := context.Background()
	if err := cs.Put(ctx, plugintest.NewCertRecord(1, "ab", "i", time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := check(ctx); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	free := testtool.FillDisk(t, dir)
	err = cs.Put(ctx, plugintest.NewCertRecord(2, "ab", "i", time.Now()))
	var ie *pluginhost.InstanceError
	if !errors.Is(err, sdk.ErrUnavailable) || !errors.As(err, &ie) || ie.Part() != `certstore "full"` || !strings.Contains(err.Error(), "disk is full") {
		t.Fatalf("put on a full disk: %v; want ErrUnavailable naming certstore \"full\" and the cause", err)
	}
	if err := check(ctx); !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "disk is full") {
		t.Errorf("Check on a full disk: %v", err)
	}
	free()
	if err := cs.Put(ctx, plugintest.NewCertRecord(2, "ab", "i", time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := check(ctx); err != nil {
		t.Errorf("Check after a successful write: %v", err)
	}
}
