package scanchecks

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pkid/pkid/sdk"
	ztls "github.com/zmap/zcrypto/tls"
)

// ticketWait bounds the read that lets a TLS 1.3 client take the session
// tickets a server sends after the handshake.
const ticketWait = 300 * time.Millisecond

func tlsSessionFamily() *family {
	return &family{name: "TLSSession", desc: "Scans host's implementation of TLS session resumption using session tickets/session IDs", checks: []*check{
		{"SessionResume", "Host is able to resume sessions across all addresses", sessionResume},
		{"SessionTickets", "Host resumes sessions from tickets, at TLS 1.2 and at TLS 1.3", sessionTickets},
		{"SessionIDs", "Host resumes TLS 1.2 sessions from their session IDs", sessionIDs},
	}}
}

// resumeOnce makes a handshake that fills cache and one that tries to
// resume from it; it reports whether the second resumed.
func (c *checker) resumeOnce(ctx context.Context, first, second string, cfg *tls.Config) (bool, error) {
	if cfg.ClientSessionCache == nil {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	}
	if err := c.handshakeAndWait(ctx, first, cfg); err != nil {
		return false, err
	}
	st, err := c.goHandshake(ctx, second, cfg)
	if err != nil {
		return false, err
	}
	return st.DidResume, nil
}

// handshakeAndWait completes a handshake and reads briefly so that tickets
// sent after a TLS 1.3 handshake reach the session cache.
func (c *checker) handshakeAndWait(ctx context.Context, addr string, cfg *tls.Config) error {
	dctx, cancel := c.dialCtx(ctx)
	defer cancel()
	raw, err := c.dialTCP(dctx, addr)
	if err != nil {
		return err
	}
	defer raw.Close()
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(dctx); err != nil {
		return fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	if conn.ConnectionState().Version == tls.VersionTLS13 {
		_ = conn.SetReadDeadline(time.Now().Add(ticketWait))
		var b [1]byte
		_, _ = conn.Read(b[:])
	}
	return nil
}

func sessionResume(ctx context.Context, e *env) error {
	cfg := e.c.tlsConfig(e.t, false)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	if err := e.c.handshakeAndWait(ctx, e.addr(), cfg); err != nil {
		return e.fail(err)
	}
	out := map[string]bool{}
	var failed []string
	for _, a := range e.addrs {
		st, err := e.c.goHandshake(ctx, e.t.dialAddr(a), cfg)
		if err != nil {
			return e.fail(err)
		}
		out[a] = st.DidResume
		if !st.DidResume {
			failed = append(failed, a)
		}
	}
	if len(failed) > 0 {
		return e.emit(sdk.GradeBad, "no session resumption on "+strings.Join(failed, ", "), out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

func sessionTickets(ctx context.Context, e *env) error {
	out := map[string]bool{}
	anyVersion := false
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := e.c.tlsConfig(e.t, false)
		cfg.MinVersion, cfg.MaxVersion = v, v
		ok, err := e.c.resumeOnce(ctx, e.addr(), e.addr(), cfg)
		if err != nil {
			if strings.Contains(err.Error(), "protocol version") {
				continue // the version is not spoken (a protocol_version alert)
			}
			return e.fail(err)
		}
		anyVersion = true
		out[versionName(v)] = ok
	}
	switch {
	case !anyVersion:
		return e.emit(sdk.GradeSkipped, "neither TLS 1.2 nor TLS 1.3 spoken", out)
	case !out["TLS 1.2"] && !out["TLS 1.3"]:
		return e.emit(sdk.GradeWarning, "no session resumed from a ticket", out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

// sessionIDs offers, in a second TLS 1.2 ClientHello, the session ID the
// first ServerHello gave: a server that resumes echoes it (RFC 5246 7.4.1.3).
func sessionIDs(ctx context.Context, e *env) error {
	h, err := e.c.sayHello(ctx, e.t, e.addr(), probe{version: ztls.VersionTLS12, suites: ephemeralSuites, curves: groupsFor(ztls.VersionTLS12)})
	if errors.Is(err, errNoHello) {
		return e.emit(sdk.GradeSkipped, "TLS 1.2 not spoken", nil)
	}
	if err != nil {
		return e.fail(err)
	}
	if len(h.sessionID) == 0 {
		return e.emit(sdk.GradeWarning, "the server gives no session ID", map[string]bool{"TLS 1.2": false})
	}
	if !h.complete {
		return e.emit(sdk.GradeWarning, "the first handshake did not complete, so no session can be resumed: "+errString(h.hsErr), map[string]bool{"TLS 1.2": false})
	}
	h2, err := e.c.resumeByID(ctx, e.t, e.addr(), h)
	if err != nil {
		return e.fail(err)
	}
	if !bytes.Equal(h2, h.sessionID) {
		return e.emit(sdk.GradeWarning, "the server does not resume sessions from their IDs", map[string]bool{"TLS 1.2": false})
	}
	return e.emit(sdk.GradeGood, "", map[string]bool{"TLS 1.2": true})
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
