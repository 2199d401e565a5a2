//go:build !linux

package testtool

import (
	"errors"
	"testing"
)

// SmallDisk needs Linux (a tmpfs mount): see Missing.
func SmallDisk(t testing.TB, size int) string {
	t.Helper()
	Missing(t, "a tmpfs mount", errors.New("linux only"))
	return ""
}

// FillDisk needs Linux.
func FillDisk(t testing.TB, dir string) (free func()) {
	t.Helper()
	Missing(t, "a tmpfs mount", errors.New("linux only"))
	return func() {}
}
