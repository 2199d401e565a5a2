package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"
)

// handshakeTimeout bounds PeerCertificates' dial and handshake together
// when ctx has no earlier deadline.
const handshakeTimeout = 10 * time.Second

// PeerCertificates dials hostport through the policy, completes a TLS
// handshake presenting serverName (SNI) and returns the certificates the
// server sent, leaf first. Nothing is verified and nothing is sent after
// the handshake: the caller judges the chain. Errors: as DialContext; the
// handshake's, wrapped.
func (p *Policy) PeerCertificates(ctx context.Context, hostport, serverName string) ([]*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	raw, err := p.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	conn := tls.Client(raw, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}) //nolint:gosec // inspected, not trusted
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("egress: TLS handshake with %s: %w", hostport, err)
	}
	return conn.ConnectionState().PeerCertificates, nil
}
