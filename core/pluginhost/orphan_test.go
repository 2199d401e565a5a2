package pluginhost_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
)

// actAsHost is the child side of TestPluginDiesWithHost: open a keystore
// out of process, print the plugin's pid, and wait to be killed.
func actAsHost(dir string) {
	h := pluginhost.New(pluginhost.Options{})
	cfg, _ := json.Marshal(map[string]any{"dir": filepath.Join(dir, "keys"), "passphrase": "p", "kdf_work_factor": 10})
	spec := pluginhost.Spec{Kind: sdk.KindKeyStore, Type: "file", New: builtinNew(sdk.KindKeyStore, "file")}
	if _, err := h.Open(context.Background(), pluginhost.OpenRequest{Spec: spec, Name: "k", Config: cfg}); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("plugin-pid", h.Processes()[0].Pid())
	time.Sleep(time.Minute)
	os.Exit(0)
}

// A host killed with SIGKILL takes its plugin processes with it, so a
// crashed daemon never leaves a plugin holding a database or an HSM session.
func TestPluginDiesWithHost(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PKID_TEST_ACT_AS_HOST="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "plugin-pid ") {
		t.Fatalf("host said %q (%v)", line, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "plugin-pid ")))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		t.Fatalf("plugin pid %d is not running", pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("plugin process %d still alive 5s after its host was killed", pid)
		}
		// The plugin is our grandchild; once dead it is reaped by init
		// (or lingers as a zombie, which counts as dead).
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(st), ") Z ") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}
