package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 100}, 3.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestTreeCPU: a child that burns CPU and exits is counted once reaped
// (cutime), and a live grandchild's time is counted through the tree.
func TestTreeCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	// sh runs a busy loop (a fixed amount of CPU, whatever the machine's
	// load) in a child process it waits for, then sleeps: the parent's
	// cutime holds the loop's time.
	cmd := exec.Command("sh", "-c", `sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'; sleep 30`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	before := treeCPU(cmd.Process.Pid)
	deadline := time.Now().Add(25 * time.Second)
	var after time.Duration
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		if after = treeCPU(cmd.Process.Pid); after-before >= 50*time.Millisecond && len(tree(cmd.Process.Pid)) == 2 {
			break // the busy child has exited and been reaped; sleep is the live child
		}
	}
	if after-before < 50*time.Millisecond {
		t.Fatalf("tree CPU grew by %v, want the busy child's time (>= 50ms)", after-before)
	}
	if n := len(tree(cmd.Process.Pid)); n < 2 {
		t.Fatalf("tree has %d processes, want sh and its sleeping child", n)
	}
	if treeCPU(1<<30) != 0 {
		t.Fatal("a missing process has CPU time")
	}
}

// TestBadTargets: every malformed -target is refused before anything
// starts, with a message naming it.
func TestBadTargets(t *testing.T) {
	dir := t.TempDir()
	for _, spec := range []string{"", "noequals", "name=nocolon", "name=pkid:", "=pkid:/bin/true", "x=nginx:/bin/true"} {
		_, err := start(context.Background(), dir, spec)
		if err == nil || !strings.Contains(err.Error(), "-target") {
			t.Errorf("start(%q) = %v, want a -target error", spec, err)
		}
	}
}

// TestServerExits: a target that exits at once is reported with its
// output, not waited on for a minute.
func TestServerExits(t *testing.T) {
	s := &server{name: "false", kind: "pkid", url: "http://127.0.0.1:1", log: new(bytes.Buffer)}
	t0 := time.Now()
	err := s.launch(context.Background(), "/bin/false")
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("launch(/bin/false) = %v, want an exit error", err)
	}
	if time.Since(t0) > 10*time.Second {
		t.Fatalf("took %v to notice the exit", time.Since(t0))
	}
}
