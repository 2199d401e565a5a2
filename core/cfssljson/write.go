package cfssljson

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Write stores f at f.Name atomically: the content goes to a temporary file
// in the same directory, which then replaces f.Name
// (docs/differences-from-cfssl.md, "pkid json writes bundles and safe files").
//
// Modes follow cfssljson where it is safe: a new file gets f.Mode minus the
// umask; an existing file keeps its permission bits, except secret files,
// which are always left at 0600. A symbolic link at f.Name is followed, as
// cfssljson's plain write would. Errors name f.Name, like cfssljson's.
func Write(f File) error {
	target := followLinks(f.Name)
	perm, keep := f.Mode.Perm(), false
	switch fi, err := os.Stat(target); {
	case err == nil && fi.IsDir():
		return &fs.PathError{Op: "open", Path: f.Name, Err: syscall.EISDIR}
	case f.Secret:
		perm, keep = 0o600, true
	case err == nil:
		perm, keep = fi.Mode().Perm(), true
	}
	tmp, err := createTemp(target, perm, keep)
	if err != nil {
		return &fs.PathError{Op: "open", Path: f.Name, Err: unwrapPath(err)}
	}
	if err := fill(tmp, f.Content, perm, keep); err != nil {
		os.Remove(tmp.Name())
		return &fs.PathError{Op: "write", Path: f.Name, Err: unwrapPath(err)}
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		os.Remove(tmp.Name())
		return &fs.PathError{Op: "rename", Path: f.Name, Err: unwrapPath(err)}
	}
	return nil
}

// followLinks returns the file a chain of symbolic links at name points to
// (which may not exist yet), or name itself.
func followLinks(name string) string {
	for range 40 {
		fi, err := os.Lstat(name)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return name
		}
		dest, err := os.Readlink(name)
		if err != nil {
			return name
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(name), dest)
		}
		name = dest
	}
	return name
}

// createTemp creates an exclusive temporary file next to target. Unless
// the mode is set explicitly later (keep), it is created with perm so the
// umask applies as it would to a fresh cfssljson file.
func createTemp(target string, perm fs.FileMode, keep bool) (*os.File, error) {
	if keep {
		perm = 0o600
	}
	dir, base := filepath.Split(target)
	var b [6]byte
	for range 100 {
		rand.Read(b[:])
		name := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fs.ErrExist
}

// fill writes content to f, sets the exact mode when keep, syncs and
// closes f.
func fill(f *os.File, content []byte, perm fs.FileMode, keep bool) error {
	_, err := f.Write(content)
	if err == nil && keep {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// unwrapPath drops the *fs.PathError or *os.LinkError naming the temporary
// file.
func unwrapPath(err error) error {
	var (
		pe *fs.PathError
		le *os.LinkError
	)
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}
