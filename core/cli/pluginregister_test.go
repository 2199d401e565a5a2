package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Issue 11 item 8: `pkid plugin register` pins a binary without running
// it. A "plugin" that leaves a marker when executed must not leave it; the
// printed block carries the sha256 of the file's bytes.
func TestPluginRegisterDoesNotExecute(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "executed")
	script := "#!/bin/sh\ntouch " + marker + "\n"
	bin := writeFile(t, dir, "pkid-plugin-marker", script)
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(script))
	want := "plugin \"marker\" {\n  path   = \"" + bin + "\"\n  sha256 = \"" + hex.EncodeToString(sum[:]) + "\"\n}\n"

	link := filepath.Join(dir, "current")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // in stdout; "" for a failure
		err  string
	}{
		{"file", []string{bin}, want, ""},
		// A symlink pins the file it points at (its path and bytes).
		{"symlink", []string{link}, want, ""},
		{"type override", []string{"-type", "other", bin}, `plugin "other" {`, ""},
		{"directory", []string{dir}, "", "not a regular file"},
		{"fifo", []string{fifo}, "", "not a regular file"},
		{"missing", []string{filepath.Join(dir, "nope")}, "", "no such file"},
		{"builtin name", []string{"-type", "file", bin}, "", "builtin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := pkid(t, append([]string{"plugin", "register"}, tc.args...)...)
			if tc.err != "" {
				wantFail(t, r, tc.err)
			} else if r.code != 0 || !strings.Contains(r.stdout, tc.want) {
				t.Fatalf("register %v: want %q in stdout; got %+v", tc.args, tc.want, r)
			}
			if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("plugin register %v executed the binary (marker: %v)", tc.args, err)
			}
		})
	}
}
