package audit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the crash test re-run this binary as a writer process.
func TestMain(m *testing.M) {
	if path := os.Getenv("PKID_AUDIT_CRASH_WRITER"); path != "" {
		crashWriter(path)
		return
	}
	os.Exit(m.Run())
}

// crashWriter appends records (large ones, so writes are not trivially
// atomic) and checkpoints until it is killed.
func crashWriter(path string) {
	key, err := LoadOrCreateKey(path + ".key")
	if err != nil {
		os.Exit(2)
	}
	l, err := Open(path, Options{CheckpointKey: key})
	if err != nil {
		os.Exit(2)
	}
	pad := make([]byte, 8<<10)
	for i := range pad {
		pad[i] = 'p'
	}
	for i := 0; ; i++ {
		if err := l.Append(context.Background(), KindIssuance, map[string]any{"i": i, "pad": string(pad)}); err != nil {
			os.Exit(3)
		}
		if i%7 == 0 {
			_ = l.Checkpoint(context.Background())
		}
	}
}

// TestKillMidWrite kills writer processes with SIGKILL while they append:
// the log never verifies as tampered, and a new writer continues it.
func TestKillMidWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	for round, after := range []time.Duration{0, 7 * time.Millisecond, 23 * time.Millisecond} {
		var size int64
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "PKID_AUDIT_CRASH_WRITER="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it while it writes: once the log grew, after a little more.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
			if fi, err := os.Stat(path); err == nil && fi.Size() > size {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("round %d: the writer wrote nothing", round)
			}
		}
		time.Sleep(after)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		pub, err := ReadPublicKey(path + ".key.pub")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		rep := verifyFile(t, path, pub)
		if rep.Tampered() {
			t.Fatalf("round %d: a killed writer left a log that verifies as tampered: %v", round, rep.Problems)
		}
		if rep.Records == 0 {
			t.Fatalf("round %d: the writer wrote nothing before it was killed", round)
		}
		t.Logf("round %d: %d records, verified through %d, problems %v", round, rep.Records, rep.VerifiedThrough, rep.Problems)
	}
}
