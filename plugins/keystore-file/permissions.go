package keystorefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pkid/pkid/sdk"
)

// checkPermissions refuses secrets that other users can reach: a
// passphrase_file, or an initialised key directory (its encrypted identity
// can be attacked offline, and a writable one lets keys be swapped), that
// group or others may read, write or enter. A new or empty directory is
// left alone: initialising it makes it 0700. Modes are read, not access
// tried, so the check also holds for root. Errors wrap
// sdk.ErrFailedPrecondition and say on one line which chmod fixes it.
func checkPermissions(c *config) error {
	if c.PassphraseFile != "" {
		fi, err := os.Stat(c.PassphraseFile)
		if err == nil && fi.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("keystore-file: passphrase_file %s is mode %04o, accessible to group or others: chmod 600 %s: %w",
				c.PassphraseFile, fi.Mode().Perm(), c.PassphraseFile, sdk.ErrFailedPrecondition)
		}
		// A missing or unreadable file is reported when it is read.
	}
	fi, err := os.Stat(c.Dir)
	if err != nil || !fi.IsDir() {
		return nil // created (0700) or reported by open
	}
	if _, err := os.Stat(filepath.Join(c.Dir, identityFile)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("keystore-file: key directory %s is mode %04o, accessible to group or others: chmod 700 %s: %w",
			c.Dir, fi.Mode().Perm(), c.Dir, sdk.ErrFailedPrecondition)
	}
	return nil
}
