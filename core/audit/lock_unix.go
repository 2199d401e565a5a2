//go:build unix

package audit

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive flock: writers in other processes (a
// keystore plugin, a ceremony) wait.
func lockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }

func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
