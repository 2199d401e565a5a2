//go:build cgo && !nopkcs11

package keystorepkcs11

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/miekg/pkcs11"
	"github.com/pkid/pkid/sdk"
)

// module is a loaded, initialised PKCS#11 library. C_Initialize and
// C_Finalize are process-wide, so instances using the same library share
// one module, finalised when the last of them closes.
type module struct {
	path string
	ctx  *pkcs11.Ctx
	refs int  // guarded by modules.mu
	own  bool // we called C_Initialize, so we call C_Finalize
	// createMu serializes key generation through the module. Generation
	// is rare (a ceremony, a new CA), and SoftHSM2's file object store
	// fails objects created concurrently with CKR_GENERAL_ERROR
	// (SoftHSMv2 issue 573, seen in this project's CI); signing stays
	// concurrent.
	createMu sync.Mutex
}

var modules = struct {
	mu sync.Mutex
	m  map[string]*module
}{m: map[string]*module{}}

// loadModule loads and initialises the library at path, or returns the
// already loaded one. Errors wrap sdk.ErrUnimplemented and name the path.
func loadModule(path string) (*module, error) {
	fail := func(err error) error {
		return fmt.Errorf("keystore-pkcs11: cannot load module %q: %w", path, err)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fail(fmt.Errorf("%w: %w", err, sdk.ErrUnimplemented))
	}
	key, err := filepath.EvalSymlinks(path)
	if err != nil {
		key = path
	}
	modules.mu.Lock()
	defer modules.mu.Unlock()
	if m := modules.m[key]; m != nil {
		m.refs++
		return m, nil
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fail(fmt.Errorf("dlopen failed or no C_GetFunctionList: not a PKCS#11 library, or a dependency is missing: %w", sdk.ErrUnimplemented))
	}
	m := &module{path: key, ctx: ctx, refs: 1, own: true}
	if err := ctx.Initialize(); err != nil {
		if !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			ctx.Destroy()
			return nil, fail(fmt.Errorf("C_Initialize: %w", err))
		}
		m.own = false // someone else in this process initialised it
	}
	modules.m[key] = m
	return m, nil
}

// release drops one reference; the last one finalises the library.
func (m *module) release() {
	modules.mu.Lock()
	defer modules.mu.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules.m, m.path)
	if m.own {
		_ = m.ctx.Finalize()
	}
	m.ctx.Destroy()
}

// isCode reports whether err is the PKCS#11 return value code.
func isCode(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}
