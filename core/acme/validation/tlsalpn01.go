package validation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ALPNProto is the ALPN protocol of tls-alpn-01 (RFC 8737 section 6.2).
const ALPNProto = "acme-tls/1"

var (
	// OIDACMEIdentifier is id-pe-acmeIdentifier (RFC 8737 section 6.1).
	OIDACMEIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}
	oidSAN            = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// tlsALPN01 connects to NAME:TLSPort offering only ALPN "acme-tls/1"
// with SNI NAME (for an ip identifier, its reverse-DNS name, RFC 8738
// section 6) and checks the self-signed certificate presented: its only
// subjectAltName is the identifier and its critical id-pe-acmeIdentifier
// extension holds SHA-256 of the key authorization (RFC 8737 section 3).
func (l *Local) tlsALPN01(ctx context.Context, req Request) ([]string, *Problem) {
	d := &dialer{l: l}
	id := req.Identifier
	sni := id.Value
	if id.Type == "ip" {
		rev, err := reverseName(id.Value)
		if err != nil {
			return nil, problem(ProblemMalformed, "%v", err)
		}
		sni = rev
	} else if _, err := d.resolve(ctx, id.Value); err != nil {
		return nil, problem(ProblemDNS, "%v", err)
	}
	target := net.JoinHostPort(id.Value, strconv.Itoa(l.opts.TLSPort))
	raw, err := d.dial(ctx, "tcp", target)
	if err != nil {
		return d.addresses(), fetchProblem(ctx, target, err)
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	conn := tls.Client(raw, &tls.Config{
		ServerName: sni,
		NextProtos: []string{ALPNProto},
		MinVersion: tls.VersionTLS12,
		// The certificate is self-signed by design: it is checked below.
		InsecureSkipVerify: true, //nolint:gosec // see above
	})
	if err := conn.HandshakeContext(ctx); err != nil {
		// The connection's deadline is the context's: either may fire first.
		var ne net.Error
		if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
			return d.addresses(), problem(ProblemConnection, "TLS handshake with %s: timed out", target)
		}
		return d.addresses(), problem(ProblemTLS, "TLS handshake with %s: %v", target, err)
	}
	defer conn.Close()
	st := conn.ConnectionState()
	if st.NegotiatedProtocol != ALPNProto {
		return d.addresses(), problem(ProblemTLS, "%s did not negotiate ALPN %q (got %q)", target, ALPNProto, st.NegotiatedProtocol)
	}
	if len(st.PeerCertificates) == 0 {
		return d.addresses(), problem(ProblemTLS, "%s presented no certificate", target)
	}
	if why := checkALPNCert(st.PeerCertificates[0], req); why != "" {
		return d.addresses(), problem(ProblemIncorrectResponse, "certificate from %s: %s", target, why)
	}
	return d.addresses(), nil
}

// checkALPNCert returns "" when cert proves req, else why not.
func checkALPNCert(cert *x509.Certificate, req Request) string {
	var sanExt, idExt []byte
	idCritical, sans := false, 0
	for _, e := range cert.Extensions {
		switch {
		case e.Id.Equal(oidSAN):
			sanExt = e.Value
			sans++
		case e.Id.Equal(OIDACMEIdentifier):
			idExt = e.Value
			idCritical = e.Critical
		}
	}
	if sanExt == nil || sans != 1 {
		return "want exactly one subjectAltName extension"
	}
	if why := checkOnlySAN(sanExt, req.Identifier); why != "" {
		return why
	}
	if idExt == nil {
		return "no id-pe-acmeIdentifier extension"
	}
	if !idCritical {
		return "the id-pe-acmeIdentifier extension is not critical"
	}
	var digest []byte
	rest, err := asn1.Unmarshal(idExt, &digest)
	if err != nil || len(rest) != 0 || len(digest) != sha256.Size {
		return "id-pe-acmeIdentifier is not an OCTET STRING of a SHA-256 digest"
	}
	want := sha256.Sum256([]byte(req.KeyAuthorization))
	if subtle.ConstantTimeCompare(digest, want[:]) != 1 {
		return "id-pe-acmeIdentifier does not match the key authorization"
	}
	return ""
}

// checkOnlySAN parses the subjectAltName extension itself (x509 drops
// name types it does not model) and requires a single name equal to id.
func checkOnlySAN(ext []byte, id Identifier) string {
	in := cryptobyte.String(ext)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return "malformed subjectAltName"
	}
	var names []string
	var tags []cbasn1.Tag
	for !seq.Empty() {
		var v cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&v, &tag) {
			return "malformed subjectAltName"
		}
		names = append(names, string(v))
		tags = append(tags, tag)
	}
	if len(names) != 1 {
		return fmt.Sprintf("want exactly one subjectAltName, got %d", len(names))
	}
	dNSName, iPAddress := cbasn1.Tag(2).ContextSpecific(), cbasn1.Tag(7).ContextSpecific()
	switch {
	case id.Type == "dns" && tags[0] == dNSName && strings.EqualFold(names[0], id.Value):
		return ""
	case id.Type == "ip" && tags[0] == iPAddress:
		ip := net.ParseIP(id.Value)
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		if bytes.Equal([]byte(names[0]), ip) {
			return ""
		}
	}
	return fmt.Sprintf("the subjectAltName is not %s", id.Value)
}

// reverseName is the in-addr.arpa or ip6.arpa name of an IP literal.
func reverseName(ip string) (string, error) {
	if net.ParseIP(ip) == nil {
		return "", fmt.Errorf("%q is not an IP address", ip)
	}
	n, err := dns.ReverseAddr(ip)
	return strings.TrimSuffix(n, "."), err
}
