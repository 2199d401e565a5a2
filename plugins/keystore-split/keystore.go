package keystoresplit

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pkid/pkid/sdk"
)

// GenerateKey makes a key of req.Algorithm, splits it among the configured
// custodians and threshold, and forgets it: it signs only after M
// custodians delegate. Errors: sdk.ErrInvalidArgument (algorithm, id),
// sdk.ErrAlreadyExists (id taken), sdk.ErrFailedPrecondition (no custodians
// configured: keys then come from the ceremony; closed).
func (s *store) GenerateKey(ctx context.Context, req sdk.GenerateKeyRequest) (*sdk.KeyInfo, error) {
	if !supportedAlgorithm(req.Algorithm) {
		return nil, fmt.Errorf("keystore-split: unsupported key algorithm %q: %w", req.Algorithm, sdk.ErrInvalidArgument)
	}
	if err := s.checkNewID(req.ID); err != nil {
		return nil, err
	}
	signer, err := sdk.GenerateKey(req.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("keystore-split: generating %s key: %w", req.Algorithm, err)
	}
	defer wipe(signer)
	return s.add(ctx, req.ID, req.Algorithm, signer, req.Attributes)
}

// ImportKey splits an existing PEM private key (moving a CA from the file
// keystore). Errors as GenerateKey's, with sdk.ErrInvalidArgument for a PEM
// holding no usable key.
func (s *store) ImportKey(ctx context.Context, req sdk.ImportKeyRequest) (*sdk.KeyInfo, error) {
	if err := s.checkNewID(req.ID); err != nil {
		return nil, err
	}
	signer, err := sdk.ParsePrivateKeyPEM(req.PEM)
	if err != nil {
		return nil, fmt.Errorf("keystore-split: %w", err)
	}
	defer wipe(signer)
	alg, err := sdk.AlgorithmOf(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("keystore-split: importing key: %w", err)
	}
	return s.add(ctx, req.ID, alg, signer, nil)
}

func (s *store) checkNewID(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	if len(s.cfg.Custodians) == 0 {
		return fmt.Errorf("keystore-split: keystore %q has no custodians configured for generate or import; make split keys with `pkid keystore split ceremony`: %w", s.name, sdk.ErrFailedPrecondition)
	}
	if id == "" {
		return nil
	}
	if !validID(id) {
		return fmt.Errorf("keystore-split: invalid key id %q (want %s): %w", id, idPattern, sdk.ErrInvalidArgument)
	}
	if _, ok := s.keys[id]; ok {
		return fmt.Errorf("keystore-split: key %q: %w", id, sdk.ErrAlreadyExists)
	}
	return nil
}

func (s *store) add(ctx context.Context, id, alg string, signer crypto.Signer, attrs map[string]string) (*sdk.KeyInfo, error) {
	if id == "" {
		var err error
		if id, err = sdk.DeriveKeyID(signer.Public()); err != nil {
			return nil, fmt.Errorf("keystore-split: %w", err)
		}
	}
	kf, err := splitKey(splitRequest{ID: id, Algorithm: alg, Signer: signer, CreatedAt: time.Now(),
		Generation: 1, Threshold: s.cfg.Threshold, Custodians: s.cfg.Custodians, Attributes: maps.Clone(attrs)})
	if err != nil {
		return nil, fmt.Errorf("keystore-split: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if _, ok := s.keys[id]; ok {
		return nil, fmt.Errorf("keystore-split: key %q: %w", id, sdk.ErrAlreadyExists)
	}
	if err := writeKeyFile(s.cfg.StateDir, kf, true); err != nil {
		if errors.Is(err, errExists) {
			return nil, fmt.Errorf("keystore-split: key %q: %w", id, sdk.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("keystore-split: writing key %q: %w", id, err)
	}
	ks := &keyState{file: kf, dels: map[string]*delegation{}, info: sdk.KeyInfo{ID: id, Algorithm: alg,
		PublicKey: signer.Public(), CreatedAt: kf.Record.CreatedAt, Attributes: kf.Record.Attributes}}
	s.keys[id] = ks
	s.writeStatus()
	return infoCopy(ks), nil
}

func writeKeyFile(stateDir string, kf *keyFile, noReplace bool) error {
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(stateDir, keysDir), kf.Record.Key+keySuffix, append(b, '\n'), 0o600, noReplace)
}

// ListKeys returns every key sorted by id. Errors: sdk.ErrFailedPrecondition
// (closed).
func (s *store) ListKeys(ctx context.Context) ([]sdk.KeyInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	s.reloadKeys()
	out := make([]sdk.KeyInfo, 0, len(s.keys))
	for _, id := range slices.Sorted(maps.Keys(s.keys)) {
		out = append(out, *infoCopy(s.keys[id]))
	}
	return out, nil
}

// PublicKey describes one key, locked or not. Errors: sdk.ErrNotFound,
// sdk.ErrFailedPrecondition (closed).
func (s *store) PublicKey(ctx context.Context, id string) (*sdk.KeyInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	return infoCopy(ks), nil
}

// lookup finds a key, reloading the key directory once for a key made by a
// ceremony since. Called with s.mu held.
func (s *store) lookup(id string) (*keyState, error) {
	if s.closed {
		return nil, errClosed
	}
	ks, ok := s.keys[id]
	if !ok {
		s.reloadKeys()
		if ks, ok = s.keys[id]; !ok {
			return nil, fmt.Errorf("keystore-split: key %q: %w", id, sdk.ErrNotFound)
		}
	}
	return ks, nil
}

// Sign signs with a key rebuilt from M live delegations (sdk.SignWith's
// rules). Every signature is audited and counts one use against each live
// delegation of the key, except the core's health probe, which is audited
// only. Errors: sdk.ErrNotFound, sdk.ErrInvalidArgument (a request
// sdk.CheckSignRequest refuses), sdk.ErrLocked (fewer than M live
// delegations, or this process does not run the state directory),
// sdk.ErrFailedPrecondition (closed), an audit failure (no signature is
// returned then).
func (s *store) Sign(ctx context.Context, req sdk.SignRequest) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if s.lock != nil {
		s.refresh(false)
	}
	ks, err := s.lookup(req.KeyID)
	if err != nil {
		return nil, err
	}
	if err := sdk.CheckSignRequest(ks.info.PublicKey, req); err != nil {
		return nil, fmt.Errorf("keystore-split: %w", err)
	}
	if s.lock == nil {
		if err := s.activate(s.customAudit); err != nil {
			return nil, err
		}
	}
	if s.lock == nil {
		return nil, fmt.Errorf("keystore-split: key %q is locked: another process runs the state directory %s (this one cannot receive delegations): %w",
			req.KeyID, s.cfg.StateDir, sdk.ErrLocked)
	}
	if ks.signer == nil {
		if s.liveCustodians(ks) < ks.file.Record.Threshold {
			// A delegation written a moment ago may not have been seen yet.
			s.refresh(true)
		}
		live := s.liveCustodians(ks)
		if live < ks.file.Record.Threshold {
			return nil, fmt.Errorf("keystore-split: key %q is locked: %d of %d custodian delegations live (custodians delegate with `pkid keystore split delegate -key %s`): %w",
				req.KeyID, live, ks.file.Record.Threshold, req.KeyID, sdk.ErrLocked)
		}
		if err := s.unlockKey(ks); err != nil {
			return nil, err
		}
		s.writeStatus()
	}
	sig, err := sdk.SignWith(ks.signer, req)
	if err != nil {
		return nil, fmt.Errorf("keystore-split: %w", err)
	}
	probe := isHealthProbe(req)
	var names, purposes, ids []string
	for _, id := range slices.Sorted(maps.Keys(ks.dels)) {
		d := ks.dels[id]
		names = append(names, d.Custodian)
		ids = append(ids, id)
		if !slices.Contains(purposes, d.Purpose) {
			purposes = append(purposes, d.Purpose)
		}
		if !probe {
			d.Uses--
		}
	}
	slices.Sort(names)
	slices.Sort(purposes)
	detail := fmt.Sprintf("hash %v, digest %x", req.Hash, req.Digest)
	if probe {
		detail = "health probe (counts no use)"
	}
	auditErr := s.record(AuditEvent{Event: EventSign, Key: req.KeyID, Custodians: names,
		Purpose: strings.Join(purposes, "; "), Delegation: strings.Join(ids, ","), Detail: detail})
	for _, id := range ids {
		if d := ks.dels[id]; d != nil && d.Uses <= 0 {
			s.endDelegation(ks, id, "uses exhausted")
		}
	}
	if !probe {
		// The watcher publishes the new use counts: a file per signature
		// would cost more than the signature (BenchmarkSign).
		s.statusDirty = true
	}
	if auditErr != nil {
		return nil, fmt.Errorf("keystore-split: not signing without an audit record: %w", auditErr)
	}
	return sig, nil
}

// applyRotation re-splits a key to a new custodian set while it is
// unlocked, so the key never leaves this process. The delegations of the
// old split end and the key locks: the new custodians delegate afresh.
func (s *store) applyRotation(file string, data []byte) {
	r, err := parseRotation(data, s.eph)
	if err != nil {
		s.refuse(file, "", "rotation: "+err.Error())
		return
	}
	defer func() {
		for i := range r.Custodians {
			r.Custodians[i].Passphrase = ""
		}
	}()
	if s.seen[r.ID] {
		s.refuse(file, r.ID, "rotation: replayed")
		return
	}
	s.seen[r.ID] = true
	if r.Session != s.session {
		s.refuse(file, r.ID, "rotation: sealed for another run of the keystore")
		return
	}
	if err := s.rotate(r); err != nil {
		s.refuse(file, r.ID, "rotation: "+err.Error())
		return
	}
	s.setResult(r.ID, "rotated")
}

// rotate is applyRotation's work. Called with s.mu held.
func (s *store) rotate(r *rotation) error {
	ks := s.keys[r.Key]
	if ks == nil {
		return fmt.Errorf("no key %q", r.Key)
	}
	if ks.signer == nil {
		if live := s.liveCustodians(ks); live < ks.file.Record.Threshold {
			return fmt.Errorf("key %q is locked: %d of %d custodian delegations live; rotation needs the key unlocked", r.Key, live, ks.file.Record.Threshold)
		}
		if err := s.unlockKey(ks); err != nil {
			return err
		}
	}
	old := ks.file.Record
	kf, err := splitKey(splitRequest{ID: old.Key, Algorithm: old.Algorithm, Signer: ks.signer, CreatedAt: old.CreatedAt,
		Generation: old.Generation + 1, Threshold: r.Threshold, Custodians: r.Custodians,
		Attributes: old.Attributes, WorkFactor: r.WorkFactor})
	if err != nil {
		return err
	}
	if err := writeKeyFile(s.cfg.StateDir, kf, false); err != nil {
		return fmt.Errorf("writing key %q: %w", r.Key, err)
	}
	var names []string
	for _, c := range r.Custodians {
		names = append(names, c.Name)
	}
	s.record(AuditEvent{Event: EventRotate, Key: r.Key, Custodians: names,
		Detail: fmt.Sprintf("generation %d, %d of %d", kf.Record.Generation, r.Threshold, len(names))})
	for id := range ks.dels {
		s.endDelegation(ks, id, "the key was rotated")
	}
	s.lockKey(ks, "the key was rotated")
	ks.file = kf
	return nil
}

func infoCopy(ks *keyState) *sdk.KeyInfo {
	info := ks.info
	info.Attributes = maps.Clone(info.Attributes)
	return &info
}
