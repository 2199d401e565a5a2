package keystorefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// errExists reports that createFile found the target already present.
var errExists = errors.New("file exists")

// createFile atomically creates dir/name with data and mode 0600: it writes
// a temporary file in dir, fsyncs it, links it into place (which, unlike
// rename, never replaces an existing file) and fsyncs dir. A crash leaves
// either no file or the complete file. It returns errExists if name exists.
func createFile(dir, name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpName) // after a successful link the target stays
	}()
	// Set explicitly: CreateTemp's mode is an implementation detail.
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		tmp = nil
		return err
	}
	tmp = nil

	target := filepath.Join(dir, name)
	if err := os.Link(tmpName, target); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errExists
		}
		// Some file systems lack hard links; fall back to a checked
		// rename (racy only against another process writing the same id).
		if _, serr := os.Lstat(target); serr == nil {
			return errExists
		}
		if rerr := os.Rename(tmpName, target); rerr != nil {
			return fmt.Errorf("link: %v; rename: %w", err, rerr)
		}
	}
	return syncDir(dir)
}

// syncDir makes a directory entry change durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
