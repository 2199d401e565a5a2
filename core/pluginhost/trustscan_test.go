package pluginhost_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

func testPluginSpec(kind string) pluginhost.Spec {
	return pluginhost.Spec{Kind: kind, Type: testPluginType, New: func() sdk.Plugin { return testPlugin{} }}
}

// openTrust opens a trust instance over a fresh PEM file holding a root and
// an intermediate; it returns the instance and the file.
func openTrust(t *testing.T, h *pluginhost.Host, inprocess bool) (sdk.Trust, string) {
	t.Helper()
	return openTrustConfig(t, h, inprocess, testPluginConfig{})
}

func openTrustConfig(t *testing.T, h *pluginhost.Host, inprocess bool, c testPluginConfig) (sdk.Trust, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "roots.pem")
	root, rootKey := testCA(t, "host test root", nil, nil)
	inter, _ := testCA(t, "host test intermediate", root, rootKey)
	appendPEM(t, file, root, inter)
	c.File = file
	cfg, _ := json.Marshal(c)
	inst, err := h.Open(context.Background(), pluginhost.OpenRequest{
		Spec: testPluginSpec(sdk.KindTrust), Name: fmt.Sprintf("tr%d", instSeq.Add(1)), Config: cfg, InProcess: inprocess,
	})
	if err != nil {
		t.Fatalf("open trust: %v", err)
	}
	return inst.(sdk.Trust), file
}

func openScanCheck(t *testing.T, h *pluginhost.Host, inprocess bool) (sdk.ScanCheck, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, _ := json.Marshal(testPluginConfig{MarkerDir: dir})
	inst, err := h.Open(context.Background(), pluginhost.OpenRequest{
		Spec: testPluginSpec(sdk.KindScanCheck), Name: fmt.Sprintf("sc%d", instSeq.Add(1)), Config: cfg, InProcess: inprocess,
	})
	if err != nil {
		t.Fatalf("open scancheck: %v", err)
	}
	return inst.(sdk.ScanCheck), dir
}

// Trust and scancheck instances pass their kits through the host, out of
// process (the plugin re-executed like a builtin) and in process.
func TestConformanceTrustScanCheck(t *testing.T) {
	for _, inprocess := range []bool{false, true} {
		mode := map[bool]string{false: "process", true: "inprocess"}[inprocess]
		h := newHost(t)
		t.Run("trust/"+mode, func(t *testing.T) {
			plugintest.TestTrust(t, func(t *testing.T) sdk.Trust { tr, _ := openTrust(t, h, inprocess); return tr })
		})
		t.Run("scancheck/"+mode, func(t *testing.T) {
			plugintest.TestScanCheck(t, func(t *testing.T) sdk.ScanCheck { sc, _ := openScanCheck(t, h, inprocess); return sc })
		})
		if !inprocess && len(h.Processes()) != 2 {
			t.Errorf("want one process per kind's spec, have %d", len(h.Processes()))
		}
	}
}

func countCerts(t *testing.T, tr sdk.Trust) int {
	t.Helper()
	n := 0
	if err := tr.Certificates(t.Context(), func(*sdk.TrustCert) error { n++; return nil }); err != nil {
		t.Fatalf("Certificates: %v", err)
	}
	return n
}

func waitChange(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the watch channel closed", what)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no change reported within 10s", what)
	}
}

// drain takes a value that may be pending on ch (a change reported
// twice), waiting briefly for one in flight.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	case <-time.After(100 * time.Millisecond):
	}
}

// A change to the source in the plugin process reaches the host's Watch;
// the watch survives the process being killed (the host watches the
// restarted process and reports a change, since one may have been missed),
// and closes only when the host cancels it.
func TestTrustWatchAcrossRestart(t *testing.T) {
	h := newHost(t)
	tr, file := openTrust(t, h, false)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := tr.Watch(ctx)
	if err != nil || ch == nil {
		t.Fatalf("Watch: %v, %v", ch, err)
	}
	extra, _ := testCA(t, "added root", nil, nil)
	appendPEM(t, file, extra)
	waitChange(t, ch, "after adding a root")
	if n := countCerts(t, tr); n != 3 {
		t.Fatalf("%d certificates after adding one, want 3", n)
	}

	drain(ch)
	proc := h.Processes()[0]
	oldPid := proc.Pid()
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	waitChange(t, ch, "after the plugin process was restarted")
	if proc.Pid() == oldPid {
		t.Fatal("the change came before the restart")
	}
	drain(ch)
	another, _ := testCA(t, "added after restart", nil, nil)
	appendPEM(t, file, another)
	waitChange(t, ch, "after adding a root to the restarted plugin")
	if n := countCerts(t, tr); n != 4 {
		t.Fatalf("%d certificates, want 4", n)
	}

	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the watch channel is open 10s after its context ended")
		}
	}
}

// The host's cancellation reaches the check in the plugin process; the
// caller's own callback error comes back as is, not as the instance's.
func TestScanCheckCancelReachesPlugin(t *testing.T) {
	h := newHost(t)
	sc, dir := openScanCheck(t, h, false)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	findings := 0
	err := sc.Run(ctx, sdk.ScanRequest{Family: "connectivity", Check: blockCheck, Host: "127.0.0.1:1"}, func(*sdk.Finding) error {
		findings++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || findings != 1 {
		t.Fatalf("Run: %v after %d findings, want context.Canceled after 1", err, findings)
	}
	marker := filepath.Join(dir, "block-ended")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(marker)
		if err == nil {
			if !strings.Contains(string(b), "canceled") {
				t.Errorf("the plugin's check ended with %q, want its context cancelled", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the check in the plugin process did not end within 10s of the host's cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}

	stop := errors.New("caller: stop")
	err = sc.Run(t.Context(), sdk.ScanRequest{Family: "connectivity", Check: blockCheck, Host: "127.0.0.1:1"}, func(*sdk.Finding) error { return stop })
	var ie *pluginhost.InstanceError
	if err != stop || errors.As(err, &ie) {
		t.Errorf("Run with a failing callback: %#v, want the callback's own error", err)
	}
	tr, _ := openTrust(t, h, false)
	if err := tr.Certificates(t.Context(), func(*sdk.TrustCert) error { return stop }); err != stop {
		t.Errorf("Certificates with a failing callback: %#v, want the callback's own error", err)
	}
}

// A plugin's error names the instance and keeps its sentinel.
func TestTrustErrorNamesInstance(t *testing.T) {
	h := newHost(t)
	tr, file := openTrust(t, h, false)
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	err := tr.Certificates(t.Context(), func(*sdk.TrustCert) error { return nil })
	var ie *pluginhost.InstanceError
	if !errors.Is(err, sdk.ErrUnavailable) || !errors.As(err, &ie) || ie.Kind != sdk.KindTrust {
		t.Fatalf("Certificates of a removed file: %v, want ErrUnavailable naming the trust instance", err)
	}
}

// A source whose watch keeps ending at once (a contract breach) makes the
// host watch again with a growing wait, not in a loop: a few re-reads in
// the first second, each one reported as a change.
func TestTrustWatchBreakingSourceBacksOff(t *testing.T) {
	h := newHost(t)
	tr, _ := openTrustConfig(t, h, false, testPluginConfig{WatchBreaks: true})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := tr.Watch(ctx)
	if err != nil || ch == nil {
		t.Fatalf("Watch: %v, %v", ch, err)
	}
	n := 0
	window := time.After(time.Second)
count:
	for {
		select {
		case <-ch:
			n++
		case <-window:
			break count
		}
	}
	// Waits of 50, 100, 200, 400ms: at most 4 re-watches in a second
	// (a loop would make dozens); at least one shows it watches again.
	if n < 1 || n > 4 {
		t.Errorf("%d changes reported in 1s by a source whose watch always breaks, want 1 to 4", n)
	}
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the watch channel is open 10s after its context ended")
		}
	}
}
