package keystoresplit

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

const (
	lockFile      = "keystore.lock"
	ephemeralFile = "ephemeral.json"
	statusFile    = "status.json"
	keysDir       = "keys"
	inboxDir      = "inbox"
	auditFile     = "audit.jsonl"
)

var errExists = errors.New("file exists")

// newToken returns 32 random hex digits.
func newToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// writeFile atomically writes dir/name (temporary file, fsync, rename or,
// with noReplace, link; fsync of dir). Names of temporary files start with
// a dot, which the inbox scan skips.
func writeFile(dir, name string, data []byte, mode os.FileMode, noReplace bool) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		if err != nil || noReplace {
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	err = tmp.Close()
	tmp = nil
	if err != nil {
		return err
	}
	target := filepath.Join(dir, name)
	if noReplace {
		if err := os.Link(tmpName, target); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return errExists
			}
			return err
		}
	} else if err := os.Rename(tmpName, target); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeStatusFile replaces status.json without fsync: it is rewritten on
// every signature and says only what the running process holds, which a
// crash ends anyway.
func writeStatusFile(dir string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+statusFile+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, statusFile))
}

// readLimited reads a regular file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// readInboxFile reads an inbox file without following a symbolic link or
// blocking on a FIFO swapped in after the directory was listed.
func readInboxFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, errors.New("cannot open it (not a regular file?)")
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxInboxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxInboxFile {
		return nil, fmt.Errorf("larger than %d bytes", maxInboxFile)
	}
	return data, nil
}

// tryLock takes the state directory's lock without waiting. It returns
// held=true when another open file (this process or another) holds it.
func tryLock(dir string) (f *os.File, held bool, err error) {
	f, err = os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, true, nil
		}
		return nil, false, err
	}
	return f, false, nil
}
