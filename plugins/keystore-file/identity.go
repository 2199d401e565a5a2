package keystorefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/pkid/pkid/sdk"
)

const (
	identityFile = "keystore.identity.age"
	keySuffix    = ".key.age"
	// maxFileSize bounds what is read from the directory; a key envelope is
	// a few KiB even for RSA-16384.
	maxFileSize = 1 << 20
)

// loadOrCreateIdentity returns the directory's X25519 identity, decrypting
// it with the passphrase (one scrypt) or, for a directory without one and
// without keys, generating it and storing it scrypt-encrypted.
func loadOrCreateIdentity(dir, passphrase string, workFactor int) (*age.X25519Identity, error) {
	path := filepath.Join(dir, identityFile)
	data, err := readLimited(path)
	if errors.Is(err, os.ErrNotExist) {
		id, err := createIdentity(dir, passphrase, workFactor)
		if !errors.Is(err, errExists) {
			return id, err
		}
		// Another process initialised the directory first: use its identity.
		data, err = readLimited(path)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore-file: reading %s: %w", identityFile, err)
	}
	return decryptIdentity(dir, data, passphrase)
}

func createIdentity(dir, passphrase string, workFactor int) (*age.X25519Identity, error) {
	// A directory holding keys but no identity lost its identity file;
	// a new identity could not decrypt them, so refuse instead.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("keystore-file: reading key directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), keySuffix) && validID(strings.TrimSuffix(e.Name(), keySuffix)) {
			return nil, fmt.Errorf("keystore-file: key directory %q holds keys but no %s; restore it from a backup", dir, identityFile)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore-file: securing key directory: %w", err)
	}

	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("keystore-file: generating identity: %w", err)
	}
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return nil, fmt.Errorf("keystore-file: passphrase: %w", err)
	}
	r.SetWorkFactor(workFactor)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, fmt.Errorf("keystore-file: encrypting identity: %w", err)
	}
	if _, err := io.WriteString(w, id.String()+"\n"); err != nil {
		return nil, fmt.Errorf("keystore-file: encrypting identity: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("keystore-file: encrypting identity: %w", err)
	}
	if err := createFile(dir, identityFile, buf.Bytes()); err != nil {
		if errors.Is(err, errExists) {
			return nil, err
		}
		return nil, fmt.Errorf("keystore-file: writing %s: %w", identityFile, err)
	}
	return id, nil
}

func decryptIdentity(dir string, data []byte, passphrase string) (*age.X25519Identity, error) {
	si, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, fmt.Errorf("keystore-file: passphrase: %w", err)
	}
	si.SetMaxWorkFactor(maxWorkFactor)
	r, err := age.Decrypt(bytes.NewReader(data), si)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) && slices.Contains(nm.StanzaTypes, "scrypt") {
			return nil, fmt.Errorf("keystore-file: wrong passphrase for key directory %q: %w", dir, sdk.ErrUnauthenticated)
		}
		return nil, fmt.Errorf("keystore-file: decrypting %s in %q: %w", identityFile, dir, err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxFileSize))
	if err != nil {
		return nil, fmt.Errorf("keystore-file: decrypting %s in %q: %w", identityFile, dir, err)
	}
	defer clear(plain)
	id, err := age.ParseX25519Identity(strings.TrimSpace(string(plain)))
	if err != nil {
		// Do not wrap: the parser's message could quote the content.
		return nil, fmt.Errorf("keystore-file: %s in %q does not hold an X25519 identity", identityFile, dir)
	}
	return id, nil
}

// readLimited reads a file of at most maxFileSize bytes.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), maxFileSize)
	}
	return data, nil
}
