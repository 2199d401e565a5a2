//go:build !unix

package audit

import "os"

// Without flock only one process may write a log.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
