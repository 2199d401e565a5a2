package keystorefile

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"github.com/pkid/pkid/sdk"
)

// entry is one loaded key. It is immutable once published.
type entry struct {
	info   sdk.KeyInfo
	signer crypto.Signer
}

// store is a configured instance; it implements sdk.KeyStore.
type store struct {
	dir       string
	recipient age.Recipient

	// keys is replaced, never mutated (copy on write), so Sign looks keys up
	// without a lock. It is nil once closed.
	keys atomic.Pointer[map[string]*entry]
	mu   sync.Mutex // serialises writers
}

var _ sdk.KeyStore = (*store)(nil)

var errClosed = fmt.Errorf("keystore-file: keystore is closed: %w", sdk.ErrFailedPrecondition)

// open prepares dir and loads its keys.
func open(ctx context.Context, dir, passphrase string, workFactor int) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore-file: creating key directory: %w", err)
	}
	id, err := loadOrCreateIdentity(dir, passphrase, workFactor)
	if err != nil {
		return nil, err
	}
	keys, err := loadKeys(ctx, dir, id)
	if err != nil {
		return nil, err
	}
	s := &store{dir: dir, recipient: id.Recipient()}
	s.keys.Store(&keys)
	return s, nil
}

func loadKeys(ctx context.Context, dir string, id age.Identity) (map[string]*entry, error) {
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("keystore-file: reading key directory: %w", err)
	}
	keys := make(map[string]*entry)
	for _, de := range names {
		kid, ok := strings.CutSuffix(de.Name(), keySuffix)
		if !ok || !validID(kid) || !de.Type().IsRegular() {
			continue // temporary files and anything not ours
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e, err := loadKey(filepath.Join(dir, de.Name()), kid, id)
		if err != nil {
			return nil, fmt.Errorf("keystore-file: loading key %q: %w", kid, err)
		}
		keys[kid] = e
	}
	return keys, nil
}

func loadKey(path, kid string, id age.Identity) (*entry, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	env, err := openEnvelope(data, id)
	if err != nil {
		return nil, err
	}
	defer clear(env.PKCS8)
	// The id inside is authenticated by age; a mismatch means the file was
	// renamed or swapped.
	if env.ID != kid {
		return nil, fmt.Errorf("file holds key %q, not %q", env.ID, kid)
	}
	priv, err := x509.ParsePKCS8PrivateKey(env.PKCS8)
	if err != nil {
		return nil, errors.New("malformed PKCS#8 key")
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", priv)
	}
	alg, err := sdk.AlgorithmOf(signer.Public())
	if err != nil {
		return nil, err
	}
	if alg != env.Algorithm {
		return nil, fmt.Errorf("key is %s, recorded as %s", alg, env.Algorithm)
	}
	return &entry{
		info: sdk.KeyInfo{ID: kid, Algorithm: alg, PublicKey: signer.Public(),
			CreatedAt: env.CreatedAt, Attributes: env.Attributes},
		signer: signer,
	}, nil
}

// GenerateKey creates a key of req.Algorithm and stores it durably before
// returning. Errors: sdk.ErrInvalidArgument (unknown algorithm, bad id),
// sdk.ErrAlreadyExists (id taken), sdk.ErrFailedPrecondition (closed).
func (s *store) GenerateKey(ctx context.Context, req sdk.GenerateKeyRequest) (*sdk.KeyInfo, error) {
	if !supportedAlgorithm(req.Algorithm) {
		return nil, fmt.Errorf("keystore-file: unsupported key algorithm %q: %w", req.Algorithm, sdk.ErrInvalidArgument)
	}
	// Fail before a slow RSA generation if the id cannot be used.
	if err := s.checkNewID(req.ID); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	signer, err := sdk.GenerateKey(req.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("keystore-file: generating %s key: %w", req.Algorithm, err)
	}
	return s.add(ctx, req.ID, req.Algorithm, signer, req.Attributes)
}

// ImportKey stores a PEM private key (see ParsePrivateKeyPEM for the
// formats). Errors: sdk.ErrInvalidArgument (unparseable, encrypted, weak or
// unsupported key; bad id), sdk.ErrAlreadyExists (id taken),
// sdk.ErrFailedPrecondition (closed).
func (s *store) ImportKey(ctx context.Context, req sdk.ImportKeyRequest) (*sdk.KeyInfo, error) {
	if err := s.checkNewID(req.ID); err != nil {
		return nil, err
	}
	signer, err := ParsePrivateKeyPEM(req.PEM)
	if err != nil {
		return nil, err
	}
	alg, err := sdk.AlgorithmOf(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("keystore-file: importing key: %w", err)
	}
	return s.add(ctx, req.ID, alg, signer, nil)
}

// checkNewID validates a requested id (empty: derived later) and rejects
// ids already in use.
func (s *store) checkNewID(id string) error {
	keys := s.keys.Load()
	if keys == nil {
		return errClosed
	}
	if id == "" {
		return nil
	}
	if !validID(id) {
		return fmt.Errorf("keystore-file: invalid key id %q (want %s): %w", id, idPattern, sdk.ErrInvalidArgument)
	}
	if _, ok := (*keys)[id]; ok {
		return fmt.Errorf("keystore-file: key %q: %w", id, sdk.ErrAlreadyExists)
	}
	return nil
}

// add writes the key file and publishes the key.
func (s *store) add(ctx context.Context, id, alg string, signer crypto.Signer, attrs map[string]string) (*sdk.KeyInfo, error) {
	if id == "" {
		var err error
		if id, err = sdk.DeriveKeyID(signer.Public()); err != nil {
			return nil, fmt.Errorf("keystore-file: %w", err)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("keystore-file: encoding key: %w", err)
	}
	defer clear(der)
	e := &entry{
		info: sdk.KeyInfo{ID: id, Algorithm: alg, PublicKey: signer.Public(),
			CreatedAt: time.Now().UTC(), Attributes: maps.Clone(attrs)},
		signer: signer,
	}
	sealed, err := sealEnvelope(&envelope{Version: envelopeVersion, ID: id, Algorithm: alg,
		CreatedAt: e.info.CreatedAt, Attributes: e.info.Attributes, PKCS8: der}, s.recipient)
	if err != nil {
		return nil, fmt.Errorf("keystore-file: encrypting key: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	keys := s.keys.Load()
	if keys == nil {
		return nil, errClosed
	}
	if _, ok := (*keys)[id]; ok {
		return nil, fmt.Errorf("keystore-file: key %q: %w", id, sdk.ErrAlreadyExists)
	}
	if err := createFile(s.dir, id+keySuffix, sealed); err != nil {
		if errors.Is(err, errExists) {
			return nil, fmt.Errorf("keystore-file: key %q: %w", id, sdk.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("keystore-file: writing key %q: %w", id, err)
	}
	next := maps.Clone(*keys)
	next[id] = e
	s.keys.Store(&next)
	return infoCopy(e), nil
}

// ListKeys returns every key sorted by id. Errors: sdk.ErrFailedPrecondition
// (closed).
func (s *store) ListKeys(ctx context.Context) ([]sdk.KeyInfo, error) {
	keys := s.keys.Load()
	if keys == nil {
		return nil, errClosed
	}
	out := make([]sdk.KeyInfo, 0, len(*keys))
	for _, id := range slices.Sorted(maps.Keys(*keys)) {
		out = append(out, *infoCopy((*keys)[id]))
	}
	return out, nil
}

// PublicKey describes one key. Errors: sdk.ErrNotFound (unknown id),
// sdk.ErrFailedPrecondition (closed).
func (s *store) PublicKey(ctx context.Context, id string) (*sdk.KeyInfo, error) {
	e, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	return infoCopy(e), nil
}

func (s *store) lookup(id string) (*entry, error) {
	keys := s.keys.Load()
	if keys == nil {
		return nil, errClosed
	}
	e, ok := (*keys)[id]
	if !ok {
		return nil, fmt.Errorf("keystore-file: key %q: %w", id, sdk.ErrNotFound)
	}
	return e, nil
}

// Close drops the keys from memory; later calls fail with
// sdk.ErrFailedPrecondition. Closing twice is harmless.
func (s *store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys.Store(nil)
	return nil
}

// infoCopy returns a KeyInfo the caller may modify.
func infoCopy(e *entry) *sdk.KeyInfo {
	info := e.info
	info.Attributes = maps.Clone(info.Attributes)
	return &info
}
