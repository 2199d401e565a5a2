package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"

	"golang.org/x/crypto/ocsp"
)

// ServerConfig returns a server configuration: the current certificate
// (looked up per handshake, so renewals apply to new connections only),
// client certificates required and verified against p.
func (t *Transport) ServerConfig(p Peers) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return t.cur.Load(), nil },
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      p.roots(),
		VerifyConnection: func(cs tls.ConnectionState) error {
			return t.verifyPeer(cs, p)
		},
	}
}

// ClientConfig returns a client configuration for serverName: the
// current certificate as client certificate, the server verified against
// p.
func (t *Transport) ClientConfig(serverName string, p Peers) *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS12,
		ServerName:           serverName,
		RootCAs:              p.roots(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return t.cur.Load(), nil },
		VerifyConnection: func(cs tls.ConnectionState) error {
			return t.verifyPeer(cs, p)
		},
	}
}

// Listen listens on addr with ServerConfig(p).
func (t *Transport) Listen(network, addr string, p Peers) (net.Listener, error) {
	return tls.Listen(network, addr, t.ServerConfig(p))
}

// Dial connects to addr with ClientConfig (the server name is addr's
// host) and completes the handshake.
func (t *Transport) Dial(ctx context.Context, network, addr string, p Peers) (*tls.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	d := &tls.Dialer{Config: t.ClientConfig(host, p)}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}

// verifyPeer runs after Go's chain verification: names, then revocation.
func (t *Transport) verifyPeer(cs tls.ConnectionState, p Peers) error {
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return errors.New("transport: peer certificate not verified")
	}
	leaf := cs.PeerCertificates[0]
	if len(p.Names) > 0 && !namesMatch(leaf, p.Names) {
		return fmt.Errorf("transport: peer %q is not one of the accepted names", leaf.Subject.CommonName)
	}
	chain := cs.VerifiedChains[0]
	if len(chain) < 2 {
		return nil // a self-signed peer: nothing above it to ask
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.checker.cfg.Timeout*2)
	defer cancel()
	return t.checker.check(ctx, leaf, chain[1], cs.OCSPResponse)
}

func namesMatch(c *x509.Certificate, names []string) bool {
	if slices.Contains(names, c.Subject.CommonName) {
		return true
	}
	for _, n := range c.DNSNames {
		if slices.Contains(names, n) {
			return true
		}
	}
	for _, u := range c.URIs {
		if slices.Contains(names, u.String()) {
			return true
		}
	}
	return false
}

func ocspRequest(leaf, issuer *x509.Certificate) ([]byte, error) {
	return ocsp.CreateRequest(leaf, issuer, nil)
}

// roots is Roots, or an empty pool: a nil pool would mean the system's
// public CAs to crypto/tls, which must not vouch for internal peers.
func (p Peers) roots() *x509.CertPool {
	if p.Roots == nil {
		return x509.NewCertPool()
	}
	return p.Roots
}
