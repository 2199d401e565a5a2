package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"sort"
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

type memConfig struct {
	MaxKeys *int `json:"max_keys"`
}

func (p *memPlugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	var c memConfig
	if err := cfg.Decode(&c); err != nil {
		return sdk.Errorf(nil, "invalid configuration", err.Error())
	}
	if c.MaxKeys != nil && *c.MaxKeys < 1 {
		return sdk.Errorf([]string{"max_keys"}, "max_keys must be at least 1", "")
	}
	return nil
}

func (p *memPlugin) Configure(ctx context.Context, cfg sdk.Config) (sdk.Instance, error) {
	if err := p.ValidateConfig(ctx, cfg).Err(); err != nil {
		return nil, err
	}
	var c memConfig
	_ = cfg.Decode(&c)
	max := 100
	if c.MaxKeys != nil {
		max = *c.MaxKeys
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
	names := make([]string, 0, len(p.insts))
	for n := range p.insts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
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

func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case sdk.AlgRSA2048, sdk.AlgRSA3072, sdk.AlgRSA4096:
		bits := map[string]int{sdk.AlgRSA2048: 2048, sdk.AlgRSA3072: 3072, sdk.AlgRSA4096: 4096}[alg]
		return rsa.GenerateKey(rand.Reader, bits)
	case sdk.AlgECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case sdk.AlgECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case sdk.AlgECDSAP521:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case sdk.AlgEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("memory: unsupported algorithm %q: %w", alg, sdk.ErrInvalidArgument)
}

func algorithmOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa-%d", k.N.BitLen()), nil
	case *ecdsa.PublicKey:
		return map[string]string{"P-256": sdk.AlgECDSAP256, "P-384": sdk.AlgECDSAP384, "P-521": sdk.AlgECDSAP521}[k.Curve.Params().Name], nil
	case ed25519.PublicKey:
		return sdk.AlgEd25519, nil
	}
	return "", fmt.Errorf("memory: unsupported key type %T: %w", pub, sdk.ErrInvalidArgument)
}

func (s *memStore) add(id string, signer crypto.Signer) (*sdk.KeyInfo, error) {
	alg, err := algorithmOf(signer.Public())
	if err != nil {
		return nil, err
	}
	if id == "" {
		der, _ := x509.MarshalPKIXPublicKey(signer.Public())
		sum := sha256.Sum256(der)
		id = "key-" + hex.EncodeToString(sum[:8])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; ok {
		return nil, fmt.Errorf("memory: key %q: %w", id, sdk.ErrAlreadyExists)
	}
	if len(s.keys) >= s.max {
		return nil, fmt.Errorf("memory: max_keys (%d) reached: %w", s.max, sdk.ErrFailedPrecondition)
	}
	k := &memKey{info: sdk.KeyInfo{ID: id, Algorithm: alg, PublicKey: signer.Public(), CreatedAt: time.Now().UTC()}, signer: signer}
	s.keys[id] = k
	info := k.info
	return &info, nil
}

func (s *memStore) GenerateKey(_ context.Context, req sdk.GenerateKeyRequest) (*sdk.KeyInfo, error) {
	signer, err := generate(req.Algorithm)
	if err != nil {
		return nil, err
	}
	return s.add(req.ID, signer)
}

func (s *memStore) ImportKey(_ context.Context, req sdk.ImportKeyRequest) (*sdk.KeyInfo, error) {
	var block *pem.Block
	rest := req.PEM
	for {
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != "EC PARAMETERS" {
			break
		}
	}
	if block == nil {
		return nil, fmt.Errorf("memory: no PEM private key: %w", sdk.ErrInvalidArgument)
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("memory: parsing %s: %v: %w", block.Type, err, sdk.ErrInvalidArgument)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("memory: unsupported key: %w", sdk.ErrInvalidArgument)
	}
	if k, ok := key.(*rsa.PrivateKey); ok && k.N.BitLen() < 2048 {
		return nil, fmt.Errorf("memory: RSA keys below 2048 bits are refused: %w", sdk.ErrInvalidArgument)
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
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
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

func (s *memStore) Sign(_ context.Context, req sdk.SignRequest) ([]byte, error) {
	k, err := s.key(req.KeyID)
	if err != nil {
		return nil, err
	}
	var opts crypto.SignerOpts = req.Hash
	switch k.signer.(type) {
	case ed25519.PrivateKey:
		if req.Hash != 0 || req.PSS {
			return nil, fmt.Errorf("memory: Ed25519 signs the message itself: %w", sdk.ErrInvalidArgument)
		}
	case *rsa.PrivateKey:
		if req.PSS {
			opts = &rsa.PSSOptions{SaltLength: req.SaltLength, Hash: req.Hash}
		}
	default:
		if req.PSS {
			return nil, fmt.Errorf("memory: PSS needs an RSA key: %w", sdk.ErrInvalidArgument)
		}
	}
	if req.Hash != 0 && (!req.Hash.Available() || len(req.Digest) != req.Hash.Size()) {
		return nil, fmt.Errorf("memory: digest length %d does not match the hash: %w", len(req.Digest), sdk.ErrInvalidArgument)
	}
	if req.Hash == 0 {
		if _, ok := k.signer.(ed25519.PrivateKey); !ok {
			return nil, fmt.Errorf("memory: a hash is required for %s keys: %w", k.info.Algorithm, sdk.ErrInvalidArgument)
		}
	}
	return k.signer.Sign(rand.Reader, req.Digest, opts)
}
