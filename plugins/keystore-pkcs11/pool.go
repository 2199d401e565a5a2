//go:build cgo && !nopkcs11

package keystorepkcs11

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/pkid/pkid/sdk"
)

// healthAfter is how long a session may sit idle before it is checked
// (C_GetSessionInfo, logged-in state) on its way out of the pool.
const healthAfter = 30 * time.Second

// session is an open, logged-in session of generation gen.
type session struct {
	h    pkcs11.SessionHandle
	gen  uint64
	used time.Time
}

// pool hands out at most cap(sem) sessions at once and keeps returned ones
// open for reuse. A reset (after the token reported that sessions or the
// login are gone) bumps the generation: older sessions are closed, not
// reused, and key handles of older generations are looked up again.
type pool struct {
	m     *module
	spec  tokenSpec
	label string // token label, for messages
	pin   string

	sem  chan struct{}
	idle chan *session

	mu     sync.Mutex // serialises reset; guards slot
	slot   uint
	gen    atomic.Uint64
	closed atomic.Bool
}

func newPool(m *module, spec tokenSpec, tok slotToken, pin string, size int) *pool {
	return &pool{m: m, spec: spec, label: tok.Info.Label, pin: pin, slot: tok.Slot,
		sem: make(chan struct{}, size), idle: make(chan *session, size)}
}

var errClosed = fmt.Errorf("keystore-pkcs11: keystore is closed: %w", sdk.ErrFailedPrecondition)

// get returns a healthy session, opening (and logging in) a new one when
// none is idle. It blocks while max_sessions are in use.
func (p *pool) get(ctx context.Context) (*session, error) {
	if p.closed.Load() {
		return nil, errClosed
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		select {
		case s := <-p.idle:
			if s.gen != p.gen.Load() {
				p.closeSession(s)
				continue
			}
			if time.Since(s.used) > healthAfter {
				if err := p.ensureLogin(s.h); err != nil {
					p.closeSession(s)
					continue
				}
			}
			return s, nil
		default:
			s, err := p.open()
			if err != nil {
				<-p.sem
				return nil, err
			}
			return s, nil
		}
	}
}

// put returns a session for reuse.
func (p *pool) put(s *session) {
	if p.closed.Load() || s.gen != p.gen.Load() {
		p.closeSession(s)
	} else {
		s.used = time.Now()
		select {
		case p.idle <- s:
		default:
			p.closeSession(s)
		}
	}
	<-p.sem
}

// discard closes a session that must not be reused.
func (p *pool) discard(s *session) {
	p.closeSession(s)
	<-p.sem
}

func (p *pool) closeSession(s *session) { _ = p.m.ctx.CloseSession(s.h) }

// open opens a read-write session and makes sure the user is logged in.
func (p *pool) open() (*session, error) {
	p.mu.Lock()
	slot, gen := p.slot, p.gen.Load()
	p.mu.Unlock()
	h, err := p.m.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return nil, fmt.Errorf("keystore-pkcs11: opening a session on token %q: %w", p.label, err)
	}
	if err := p.ensureLogin(h); err != nil {
		_ = p.m.ctx.CloseSession(h)
		return nil, err
	}
	return &session{h: h, gen: gen, used: time.Now()}, nil
}

// ensureLogin checks the session and logs the user in unless the token
// already has the login (it is shared by all sessions of the process).
// Errors: wraps sdk.ErrUnauthenticated for a wrong or locked PIN.
func (p *pool) ensureLogin(h pkcs11.SessionHandle) error {
	info, err := p.m.ctx.GetSessionInfo(h)
	if err != nil {
		return fmt.Errorf("keystore-pkcs11: checking a session on token %q: %w", p.label, err)
	}
	if info.State == pkcs11.CKS_RW_USER_FUNCTIONS || info.State == pkcs11.CKS_RO_USER_FUNCTIONS {
		return nil
	}
	err = p.m.ctx.Login(h, pkcs11.CKU_USER, p.pin)
	switch {
	case err == nil, isCode(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN):
		return nil
	case isCode(err, pkcs11.CKR_PIN_INCORRECT), isCode(err, pkcs11.CKR_PIN_LEN_RANGE):
		return fmt.Errorf("keystore-pkcs11: wrong PIN for token %q: %w", p.label, sdk.ErrUnauthenticated)
	case isCode(err, pkcs11.CKR_PIN_LOCKED):
		return fmt.Errorf("keystore-pkcs11: PIN of token %q is locked: %w", p.label, sdk.ErrUnauthenticated)
	case isCode(err, pkcs11.CKR_PIN_EXPIRED):
		return fmt.Errorf("keystore-pkcs11: PIN of token %q has expired: %w", p.label, sdk.ErrUnauthenticated)
	}
	return fmt.Errorf("keystore-pkcs11: logging in to token %q: %w", p.label, err)
}

// reset discards every idle session after the token reported that the
// sessions or the login of generation gen are gone, and finds the token's
// slot again (a restarted token may come back in another slot). Only the
// first caller for a generation resets.
func (p *pool) reset(gen uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen.Load() != gen {
		return nil
	}
	p.gen.Add(1)
	for {
		select {
		case s := <-p.idle:
			p.closeSession(s)
			continue
		default:
		}
		break
	}
	tok, err := p.m.findToken(p.spec)
	if err != nil {
		return fmt.Errorf("keystore-pkcs11: token lost: %w: %w", err, sdk.ErrUnavailable)
	}
	p.slot = tok.Slot
	return nil
}

// close waits (up to a few seconds) for sessions in use, then closes all.
// It never logs out: the login is shared with other instances on the token.
func (p *pool) close() {
	p.closed.Store(true)
	deadline := time.After(5 * time.Second)
fill:
	for range cap(p.sem) {
		select {
		case p.sem <- struct{}{}:
		case <-deadline:
			break fill
		}
	}
	for {
		select {
		case s := <-p.idle:
			p.closeSession(s)
		default:
			return
		}
	}
}

// tokenGone lists the return values after which the pool is reset and the
// operation retried once: the session or login vanished (idle timeout,
// C_CloseAllSessions, token restart) or the device failed.
var tokenGone = []uint{
	pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED,
	pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_DEVICE_ERROR,
	pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT,
	pkcs11.CKR_TOKEN_NOT_RECOGNIZED,
}

func isTokenGone(err error) bool {
	var e pkcs11.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range tokenGone {
		if uint(e) == c {
			return true
		}
	}
	return false
}

// do runs fn on a pooled session. If the token reports the session or login
// gone, the pool is reset and fn runs once more on a fresh session; a second
// such failure wraps sdk.ErrUnavailable. A session left with an active
// operation is discarded.
func (p *pool) do(ctx context.Context, fn func(h pkcs11.SessionHandle, gen uint64) error) error {
	for attempt := 0; ; attempt++ {
		gen := p.gen.Load()
		s, err := p.get(ctx)
		if err == nil {
			gen = s.gen
			err = fn(s.h, s.gen)
			switch {
			case err == nil || !isTokenGone(err) && !isCode(err, pkcs11.CKR_OPERATION_ACTIVE):
				p.put(s)
				return err
			default:
				p.discard(s)
			}
		}
		if !isTokenGone(err) && !isCode(err, pkcs11.CKR_OPERATION_ACTIVE) {
			return err
		}
		if attempt > 0 {
			return fmt.Errorf("keystore-pkcs11: token %q: %w: %w", p.label, err, sdk.ErrUnavailable)
		}
		if isTokenGone(err) {
			if rerr := p.reset(gen); rerr != nil {
				return rerr
			}
		}
	}
}
