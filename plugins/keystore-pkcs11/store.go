//go:build cgo && !nopkcs11

package keystorepkcs11

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/miekg/pkcs11"
	"github.com/pkid/pkid/sdk"
)

// Instance is a configured pkcs11 keystore; it implements sdk.KeyStore.
type Instance struct {
	name  string
	reg   *registry
	mod   *module
	token slotToken
	pool  *pool
	mechs map[uint]bool

	mu    sync.RWMutex
	cache map[string]*keyEntry // by the reference callers use

	genMu      sync.Mutex
	generating map[string]bool

	closed atomic.Bool
}

var _ sdk.KeyStore = (*Instance)(nil)

// keyEntry is a key found on the token. Its object handle is valid for one
// pool generation.
type keyEntry struct {
	info    sdk.KeyInfo
	keyType uint
	label   string
	id      []byte
	handle  atomic.Pointer[handleRef]
}

type handleRef struct {
	gen uint64
	h   pkcs11.ObjectHandle
}

// registry is the plugin's set of configured instances, for CLI commands.
type registry struct {
	mu sync.Mutex
	m  map[string]*Instance
}

func (r *registry) add(i *Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*Instance{}
	}
	r.m[i.name] = i
}

func (r *registry) remove(i *Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[i.name] == i {
		delete(r.m, i.name)
	}
}

// lookup returns the instance called name, or the only one if name is "".
func (r *registry) lookup(name string) (*Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name != "" {
		if i := r.m[name]; i != nil {
			return i, nil
		}
		return nil, fmt.Errorf("keystore-pkcs11: no pkcs11 keystore %q is configured: %w", name, sdk.ErrNotFound)
	}
	switch len(r.m) {
	case 0:
		return nil, fmt.Errorf("keystore-pkcs11: no pkcs11 keystore is configured: %w", sdk.ErrFailedPrecondition)
	case 1:
		for _, i := range r.m {
			return i, nil
		}
	}
	names := slices.Sorted(maps.Keys(r.m))
	return nil, fmt.Errorf("keystore-pkcs11: several pkcs11 keystores are configured (%q); name one with -keystore: %w", names, sdk.ErrInvalidArgument)
}

// configure opens an instance; see Configure for the errors.
func (p *plugin) configure(ctx context.Context, name string, c *config) (sdk.Instance, error) {
	pin, err := c.readPIN()
	if err != nil {
		return nil, err
	}
	mod, err := loadModule(c.Module)
	if err != nil {
		return nil, err
	}
	inst, err := open(ctx, name, mod, c, pin)
	if err != nil {
		mod.release()
		return nil, err
	}
	inst.reg = &p.reg
	p.reg.add(inst)
	return inst, nil
}

func open(ctx context.Context, name string, mod *module, c *config, pin string) (*Instance, error) {
	tok, err := mod.findToken(c.Token)
	if err != nil {
		return nil, err
	}
	list, err := mod.ctx.GetMechanismList(tok.Slot)
	if err != nil {
		return nil, fmt.Errorf("keystore-pkcs11: listing mechanisms of token %q: %w", tok.Info.Label, err)
	}
	mechs := map[uint]bool{}
	for _, m := range list {
		mechs[m.Mechanism] = true
	}
	if !mechs[pkcs11.CKM_ECDSA] && !mechs[pkcs11.CKM_RSA_PKCS] && !mechs[ckmEdDSA] {
		return nil, fmt.Errorf("keystore-pkcs11: token %q supports none of CKM_ECDSA, CKM_RSA_PKCS and CKM_EDDSA: %w", tok.Info.Label, sdk.ErrUnimplemented)
	}
	for _, alg := range c.Algorithms {
		if err := checkMechanisms(mechs, tok.Info.Label, alg); err != nil {
			return nil, err
		}
	}
	i := &Instance{name: name, mod: mod, token: tok, mechs: mechs,
		pool:  newPool(mod, c.Token, tok, pin, c.MaxSessions),
		cache: map[string]*keyEntry{}, generating: map[string]bool{}}
	// Open the first session now: a wrong PIN fails start-up.
	s, err := i.pool.get(ctx)
	if err != nil {
		i.pool.close()
		return nil, err
	}
	i.pool.put(s)
	return i, nil
}

// Close closes the instance's sessions (waiting briefly for operations in
// progress) and releases the module. It never logs the token out. Later
// calls return nil.
func (i *Instance) Close() error {
	if i.closed.Swap(true) {
		return nil
	}
	if i.reg != nil {
		i.reg.remove(i)
	}
	i.pool.close()
	i.mod.release()
	return nil
}

// CloseAllSessionsForTest calls C_CloseAllSessions on the instance's slot
// behind the pool's back, which also logs the token out, as an idle timeout
// or a token restart would. It exists for tests of session recovery.
func (i *Instance) CloseAllSessionsForTest() error {
	i.pool.mu.Lock()
	slot := i.pool.slot
	i.pool.mu.Unlock()
	return i.mod.ctx.CloseAllSessions(slot)
}

// TokenLabel returns the label of the instance's token.
func (i *Instance) TokenLabel() string { return i.token.Info.Label }
