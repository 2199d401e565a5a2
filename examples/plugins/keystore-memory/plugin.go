// Command pkid-plugin-memory is a sample third-party pkid plugin: a keystore
// that keeps keys in memory only (they vanish when the process exits). It is
// built against github.com/pkid/pkid/sdk alone and shows the whole surface a
// plugin author touches: Info, a schema, validation, instances, the
// KeyStore interface and a plugin CLI command (docs/plugin-guide.md).
//
// Register it with:  pkid plugin register ./pkid-plugin-memory
package main

import (
	"context"
	"crypto"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/pkid/pkid/sdk"
)

// memPlugin keeps its instances so that its command can report on them.
type memPlugin struct {
	mu    sync.Mutex
	insts map[string]*memStore
}

func main() { os.Exit(sdk.Main(New())) }

// New returns the plugin.
func New() sdk.Plugin { return &memPlugin{insts: map[string]*memStore{}} }

func (p *memPlugin) Info() sdk.Info {
	return sdk.Info{Name: "memory", Version: "1.0.0", Kinds: []string{sdk.KindKeyStore}, Description: "sample keystore keeping keys in memory"}
}

// Schema needs no kind check: the host only asks for the kinds in Info.
func (p *memPlugin) Schema(string) *sdk.Schema {
	return sdk.NewSchema().Number("max_keys", sdk.Optional, "refuse to hold more keys than this").Default("100")
}

// parse decodes the block; max_keys is 100 when unset (JSON null). The core
// decoded the block against the schema: max_keys is its only attribute.
func parse(cfg sdk.Config) (int, sdk.Diagnostics) {
	c := struct {
		MaxKeys int `json:"max_keys"`
	}{MaxKeys: 100}
	if err := cfg.Decode(&c); err != nil || c.MaxKeys < 1 {
		return 0, sdk.Errorf([]string{"max_keys"}, "max_keys must be a whole number of at least 1", "")
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

// Commands adds `pkid keystore memory stats` (sdk.Commander is optional).
func (p *memPlugin) Commands() []sdk.Command {
	return []sdk.Command{{Kind: sdk.KindKeyStore, Name: "stats", Synopsis: "count keys per instance"}}
}

// RunCommand runs stats: the host only runs commands that Commands lists.
func (p *memPlugin) RunCommand(_ context.Context, req sdk.CommandRequest) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range slices.Sorted(maps.Keys(p.insts)) {
		keys, _ := p.insts[n].ListKeys(context.Background())
		fmt.Fprintf(req.Stdout, "%s\t%d keys\n", n, len(keys))
	}
	return 0, nil
}

type memKey struct {
	info   sdk.KeyInfo
	signer crypto.Signer
}

// memStore is an sdk.KeyStore. It has no ImportKey, so it is no
// sdk.KeyImporter and pkid says it cannot import keys.
type memStore struct {
	max  int
	mu   sync.RWMutex
	keys map[string]*memKey
}

func (s *memStore) Close() error { return nil }

// GenerateKey names the key sdk.DeriveKeyID when req.ID is empty.
func (s *memStore) GenerateKey(_ context.Context, req sdk.GenerateKeyRequest) (*sdk.KeyInfo, error) {
	signer, err := sdk.GenerateKey(req.Algorithm)
	id := req.ID
	if err == nil && id == "" {
		id, err = sdk.DeriveKeyID(signer.Public())
	}
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch _, taken := s.keys[id]; {
	case taken:
		return nil, fmt.Errorf("memory: key %q: %w", id, sdk.ErrAlreadyExists)
	case len(s.keys) >= s.max:
		return nil, fmt.Errorf("memory: max_keys (%d) reached: %w", s.max, sdk.ErrFailedPrecondition)
	}
	info := sdk.KeyInfo{ID: id, Algorithm: req.Algorithm, PublicKey: signer.Public(), CreatedAt: time.Now().UTC()}
	s.keys[id] = &memKey{info: info, signer: signer}
	return &info, nil
}

func (s *memStore) ListKeys(context.Context) ([]sdk.KeyInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []sdk.KeyInfo{}
	for _, id := range slices.Sorted(maps.Keys(s.keys)) {
		out = append(out, s.keys[id].info)
	}
	return out, nil
}

// key returns a copy of key id's description, and its signer.
func (s *memStore) key(id string) (*sdk.KeyInfo, crypto.Signer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if k, ok := s.keys[id]; ok {
		info := k.info
		return &info, k.signer, nil
	}
	return nil, nil, fmt.Errorf("memory: key %q: %w", id, sdk.ErrNotFound)
}

func (s *memStore) PublicKey(_ context.Context, id string) (*sdk.KeyInfo, error) {
	info, _, err := s.key(id)
	return info, err
}

// Sign applies the policy every keystore shares (sdk.SignWith checks the
// request with sdk.CheckSignRequest: no MD5 or SHA-1, digest length, PSS).
func (s *memStore) Sign(_ context.Context, req sdk.SignRequest) ([]byte, error) {
	_, signer, err := s.key(req.KeyID)
	if err != nil {
		return nil, err
	}
	return sdk.SignWith(signer, req)
}
