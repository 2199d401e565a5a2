package main

import (
	"context"
	"crypto"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pkid/pkid/sdk"
)

type memPlugin struct {
	mu    sync.Mutex
	insts map[string]*memStore
}

// New returns the plugin.
func New() sdk.Plugin { return &memPlugin{insts: map[string]*memStore{}} }

func (p *memPlugin) Info() sdk.Info {
	return sdk.Info{Name: "memory", Version: "1.0.0", Kinds: []string{sdk.KindKeyStore},
		Description: "sample keystore keeping keys in memory (examples only)"}
}

func (p *memPlugin) Schema(string) *sdk.Schema {
	return sdk.NewSchema().
		Number("max_keys", sdk.Optional, "refuse to hold more keys than this").Default("100")
}

// parse decodes the block; max_keys is 100 when unset (JSON null).
func parse(cfg sdk.Config) (int, sdk.Diagnostics) {
	c := struct {
		MaxKeys int `json:"max_keys"`
	}{MaxKeys: 100}
	if err := cfg.Decode(&c); err != nil {
		return 0, sdk.Errorf(nil, "invalid configuration", err.Error())
	}
	if c.MaxKeys < 1 {
		return 0, sdk.Errorf([]string{"max_keys"}, "max_keys must be at least 1", "")
	}
	return c.MaxKeys, nil
}

func (p *memPlugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	_, diags := parse(cfg)
	return diags
}

func (p *memPlugin) Configure(_ context.Context, cfg sdk.Config) (sdk.Instance, error) {
	max, diags := parse(cfg)
	if err := diags.Err(); err != nil {
		return nil, err
	}
	s := &memStore{max: max, keys: map[string]*memKey{}}
	p.mu.Lock()
	p.insts[cfg.Instance] = s
	p.mu.Unlock()
	return s, nil
}

// Commands adds `pkid keystore memory stats`.
func (p *memPlugin) Commands() []sdk.Command {
	return []sdk.Command{{Kind: sdk.KindKeyStore, Name: "stats", Synopsis: "count keys per instance"}}
}

func (p *memPlugin) RunCommand(_ context.Context, req sdk.CommandRequest) (int, error) {
	if req.Name != "stats" {
		fmt.Fprintf(req.Stderr, "unknown command %q\n", req.Name)
		return 2, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range slices.Sorted(maps.Keys(p.insts)) {
		s := p.insts[n]
		s.mu.RLock()
		fmt.Fprintf(req.Stdout, "%s\t%d keys\n", n, len(s.keys))
		s.mu.RUnlock()
	}
	return 0, nil
}

type memKey struct {
	info   sdk.KeyInfo
	signer crypto.Signer
}

type memStore struct {
	max  int
	mu   sync.RWMutex
	keys map[string]*memKey
}

func (s *memStore) Close() error {
	s.mu.Lock()
	s.keys = map[string]*memKey{}
	s.mu.Unlock()
	return nil
}

// add names the key (sdk.DeriveKeyID when id is empty) and keeps it.
func (s *memStore) add(id string, signer crypto.Signer) (*sdk.KeyInfo, error) {
	alg, err := sdk.AlgorithmOf(signer.Public())
	if err == nil && id == "" {
		id, err = sdk.DeriveKeyID(signer.Public())
	}
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; ok {
		return nil, fmt.Errorf("memory: key %q: %w", id, sdk.ErrAlreadyExists)
	}
	if len(s.keys) >= s.max {
		return nil, fmt.Errorf("memory: max_keys (%d) reached: %w", s.max, sdk.ErrFailedPrecondition)
	}
	info := sdk.KeyInfo{ID: id, Algorithm: alg, PublicKey: signer.Public(), CreatedAt: time.Now().UTC()}
	s.keys[id] = &memKey{info: info, signer: signer}
	return &info, nil
}

func (s *memStore) GenerateKey(_ context.Context, req sdk.GenerateKeyRequest) (*sdk.KeyInfo, error) {
	signer, err := sdk.GenerateKey(req.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	return s.add(req.ID, signer)
}

func (s *memStore) ImportKey(_ context.Context, req sdk.ImportKeyRequest) (*sdk.KeyInfo, error) {
	signer, err := sdk.ParsePrivateKeyPEM(req.PEM)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	return s.add(req.ID, signer)
}

func (s *memStore) ListKeys(context.Context) ([]sdk.KeyInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]sdk.KeyInfo, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k.info)
	}
	slices.SortFunc(out, func(a, b sdk.KeyInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *memStore) key(id string) (*memKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[id]
	if !ok {
		return nil, fmt.Errorf("memory: key %q: %w", id, sdk.ErrNotFound)
	}
	return k, nil
}

func (s *memStore) PublicKey(_ context.Context, id string) (*sdk.KeyInfo, error) {
	k, err := s.key(id)
	if err != nil {
		return nil, err
	}
	info := k.info
	return &info, nil
}

// Sign signs with the Go key under the policy every keystore shares
// (sdk.SignWith checks the request with sdk.CheckSignRequest).
func (s *memStore) Sign(_ context.Context, req sdk.SignRequest) ([]byte, error) {
	k, err := s.key(req.KeyID)
	if err != nil {
		return nil, err
	}
	sig, err := sdk.SignWith(k.signer, req)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	return sig, nil
}
