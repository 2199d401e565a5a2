package scanchecks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	ztls "github.com/zmap/zcrypto/tls"
)

// dialCtx bounds one dial and handshake by the check's deadline and the
// configured dial timeout, whichever comes first.
func (c *checker) dialCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.dialTimeout)
}

// dialTCP opens a TCP connection whose deadline is the dial context's.
func (c *checker) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return conn, nil
}

// tlsConfig is Go's client config for t. verify turns on chain and name
// verification against the configured roots.
func (c *checker) tlsConfig(t *target, verify bool) *tls.Config {
	cfg := &tls.Config{
		ServerName:         t.sni(),
		RootCAs:            c.roots,
		InsecureSkipVerify: !verify, //nolint:gosec // a scanner must see broken servers
		MinVersion:         tls.VersionTLS10,
	}
	if verify && cfg.ServerName == "" {
		// Verification against an IP literal still needs a name to check.
		cfg.ServerName = t.name
	}
	return cfg
}

// goHandshake completes a handshake with Go's crypto/tls and returns its
// state.
func (c *checker) goHandshake(ctx context.Context, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	dctx, cancel := c.dialCtx(ctx)
	defer cancel()
	raw, err := c.dialTCP(dctx, addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer raw.Close()
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(dctx); err != nil {
		return tls.ConnectionState{}, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return conn.ConnectionState(), nil
}

// errNoHello is a handshake the server refused before its ServerHello
// (an alert or a closed connection): the offer was not accepted.
var errNoHello = errors.New("server refused the offer")

// hello is what a server answered to one probing ClientHello.
type hello struct {
	version   uint16
	suite     uint16
	certs     []*x509.Certificate // leaf first; empty if not reached
	curve     ztls.CurveID        // ECDHE group, 0 if none
	dhBits    int                 // finite-field DHE prime size, 0 if none
	ocsp      bool                // the server stapled (or announced) OCSP
	ticket    bool                // the server announced session tickets
	skx       bool                // the server sent a ServerKeyExchange
	sessionID []byte
	alpn      string
	// complete is true when the whole handshake succeeded.
	complete bool
	hsErr    error
}

// probe is one ClientHello to send with zcrypto, which still speaks SSL 3.0
// and offers suites Go's crypto/tls dropped.
type probe struct {
	version uint16 // offered min = max version
	suites  []uint16
	curves  []ztls.CurveID
	alpn    []string
	// sigAlg, when set, is the only TLS 1.2 signature_algorithms entry
	// offered (hash<<8 | signature); the probe then uses only ephemeral
	// suites, which the server must sign.
	sigAlg uint16
}

// sayHello sends one probing handshake. It returns errNoHello when the
// server refused the offer, a dial error when it cannot be reached.
func (c *checker) sayHello(ctx context.Context, t *target, addr string, p probe) (*hello, error) {
	dctx, cancel := c.dialCtx(ctx)
	defer cancel()
	raw, err := c.dialTCP(dctx, addr)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	cfg := &ztls.Config{
		ServerName:         t.sni(),
		InsecureSkipVerify: true,
		MinVersion:         p.version,
		MaxVersion:         p.version,
		CipherSuites:       p.suites,
		ForceSuites:        true,
		CurvePreferences:   p.curves,
		NextProtos:         p.alpn,
		// Do not let a session cache or tickets change what is measured.
		SessionTicketsDisabled: true,
	}
	if p.version < ztls.VersionTLS13 {
		// zcrypto offers TLS 1.3 suites only at 1.3.
		cfg.ExplicitCurvePreferences = len(p.curves) > 0
	}
	switch {
	case p.version == ztls.VersionSSL30:
		// zcrypto no longer speaks SSL 3.0, but still sends a ClientHello
		// of any version and logs the ServerHello; the handshake then
		// stops, which is all a probe needs.
		cfg.MinVersion, cfg.MaxVersion = 0, 0
		cfg.ClientFingerprintConfiguration = &ztls.ClientFingerprintConfiguration{
			HandshakeVersion: ztls.VersionSSL30, CipherSuites: p.suites, CompressionMethods: []uint8{0},
		}
	case p.sigAlg != 0:
		cfg.ClientFingerprintConfiguration = sigAlgHello(t.sni(), p)
	}
	conn := ztls.Client(raw, cfg)
	hsErr := conn.Handshake()
	if hsErr == nil {
		// close_notify: OpenSSL forgets a session whose connection ends
		// without it, and SessionIDs would see no resumption.
		defer conn.Close()
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, ctx.Err())
	}
	log := conn.GetHandshakeLog()
	if log == nil || log.ServerHello == nil {
		if hsErr != nil && dctx.Err() != nil {
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, hsErr)
		}
		return nil, errNoHello
	}
	sh := log.ServerHello
	h := &hello{version: uint16(sh.Version), suite: uint16(sh.CipherSuite), ocsp: sh.OcspStapling, sessionID: sh.SessionID,
		ticket: sh.TicketSupported, alpn: sh.AlpnProtocol, complete: hsErr == nil, hsErr: hsErr}
	if sh.SupportedVersions != nil {
		h.version = uint16(sh.SupportedVersions.SelectedVersion)
	}
	if sh.KeyShare != nil && sh.KeyShare.KeyExchange != nil {
		h.curve = *sh.KeyShare.KeyExchange
	}
	if h.version != p.version {
		// A server that answers another version refused the one offered.
		return nil, errNoHello
	}
	if !containsU16(p.suites, h.suite) && len(p.suites) > 0 {
		return nil, fmt.Errorf("server at %s chose suite %#04x that was not offered", addr, h.suite)
	}
	if log.ServerCertificates != nil {
		h.certs = parseChain(log.ServerCertificates)
	}
	if ske := log.ServerKeyExchange; ske != nil {
		h.skx = true
		if ske.ECDHParams != nil {
			h.curve = ztls.CurveID(ske.ECDHParams.TLSCurveID)
		}
		if ske.DHParams != nil && ske.DHParams.Prime != nil {
			h.dhBits = ske.DHParams.Prime.BitLen()
		}
	}
	if cs := conn.ConnectionState(); h.complete {
		h.alpn = cs.NegotiatedProtocol
		h.ocsp = h.ocsp || len(cs.OCSPResponse) > 0
	}
	return h, nil
}

func parseChain(c *ztls.Certificates) []*x509.Certificate {
	var out []*x509.Certificate
	for _, raw := range append([]ztls.SimpleCertificate{c.Certificate}, c.Chain...) {
		if len(raw.Raw) == 0 {
			continue
		}
		cert, err := x509.ParseCertificate(raw.Raw)
		if err != nil {
			break
		}
		out = append(out, cert)
	}
	return out
}

func containsU16(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// chain returns the certificates addr serves: over Go's crypto/tls, or over
// zcrypto when the server speaks only what Go no longer does.
func (c *checker) chain(ctx context.Context, t *target, addr string) ([]*x509.Certificate, error) {
	st, err := c.goHandshake(ctx, addr, c.tlsConfig(t, false))
	if err == nil {
		if len(st.PeerCertificates) == 0 {
			return nil, fmt.Errorf("%s sent no certificate", addr)
		}
		return st.PeerCertificates, nil
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return nil, err
	}
	for _, v := range []uint16{ztls.VersionTLS12, ztls.VersionTLS10, ztls.VersionSSL30} {
		h, herr := c.sayHello(ctx, t, addr, probe{version: v, suites: allSuites(v)})
		if herr == nil && len(h.certs) > 0 {
			return h.certs, nil
		}
		if herr != nil && !errors.Is(herr, errNoHello) {
			break
		}
	}
	return nil, err
}

// resumeByID offers the session ID of the completed handshake first and
// returns the session ID of the server's answer: the same ID when it
// resumes. zcrypto keeps no master secret for an ID, so the handshake
// itself fails after the ServerHello, which is all this needs.
func (c *checker) resumeByID(ctx context.Context, t *target, addr string, first *hello) ([]byte, error) {
	dctx, cancel := c.dialCtx(ctx)
	defer cancel()
	raw, err := c.dialTCP(dctx, addr)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	fp := sigAlgHello(t.sni(), probe{suites: []uint16{first.suite}})
	fp.SessionID = first.sessionID
	fp.Extensions = fp.Extensions[:len(fp.Extensions)-1] // every signature algorithm below
	codes := make([]uint16, len(sigAlgs))
	for i, a := range sigAlgs {
		codes[i] = a.code
	}
	fp.Extensions = append(fp.Extensions, &sigAlgsExtension{codes: codes}, &ztls.SecureRenegotiationExtension{})
	cfg := &ztls.Config{ServerName: t.sni(), InsecureSkipVerify: true, MinVersion: ztls.VersionTLS12, MaxVersion: ztls.VersionTLS12,
		ForceSuites: true, SessionTicketsDisabled: true, ClientFingerprintConfiguration: fp}
	conn := ztls.Client(raw, cfg)
	_ = conn.Handshake()
	if log := conn.GetHandshakeLog(); log != nil && log.ServerHello != nil {
		return log.ServerHello.SessionID, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, ctx.Err())
	}
	return nil, nil
}
