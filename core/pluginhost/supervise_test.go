package pluginhost_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// The plugin process is killed 10 times while 16 callers sign without
// pause. Supervision has one owner per process: exactly one restart per
// kill, no double close of the ready channel (the audit's panic), no late
// restart killing a fresh process. Every call succeeds or fails with the
// retryable sdk.ErrUnavailable, and the process serves again at the end.
func TestRepeatedKillsUnderLoad(t *testing.T) {
	const callers, kills = 16, 10
	h := newHost(t)
	ks := openKeyStore(t, h, false)
	ctx := context.Background()
	if _, err := ks.GenerateKey(ctx, sdk.GenerateKeyRequest{ID: "k", Algorithm: sdk.AlgECDSAP256}); err != nil {
		t.Fatal(err)
	}
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
				err := signOnce(cctx, ks, "k")
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
	if err := signOnce(ctx, ks, "k"); err != nil {
		t.Fatalf("sign after the last restart: %v", err)
	}
	if st := proc.Status(); st.State != "running" || st.LastError != "" {
		t.Errorf("status after recovery = %+v; want running with no error", st)
	}
	t.Logf("%d signatures, %d retryable failures, %d restarts", succeeded.Load(), failed.Load(), proc.Restarts())
}
