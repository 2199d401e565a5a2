package validation

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// RFC 8555 problem types (section 6.7) a perspective reports.
const (
	ProblemConnection        = "urn:ietf:params:acme:error:connection"
	ProblemDNS               = "urn:ietf:params:acme:error:dns"
	ProblemUnauthorized      = "urn:ietf:params:acme:error:unauthorized"
	ProblemIncorrectResponse = "urn:ietf:params:acme:error:incorrectResponse"
	ProblemCAA               = "urn:ietf:params:acme:error:caa"
	ProblemTLS               = "urn:ietf:params:acme:error:tls"
	ProblemServerInternal    = "urn:ietf:params:acme:error:serverInternal"
	ProblemMalformed         = "urn:ietf:params:acme:error:malformed"
	ProblemRejectedID        = "urn:ietf:params:acme:error:rejectedIdentifier"
)

// Defaults of LocalOptions.
const (
	DefaultTimeout = 10 * time.Second
	// MaxHTTPBody is how much of an http-01 response is read: a key
	// authorization is under 100 bytes.
	MaxHTTPBody = 8 << 10
	// MaxRedirects an http-01 validation follows.
	MaxRedirects = 10
)

// LocalOptions configure a perspective that validates from this process.
type LocalOptions struct {
	// Name identifies the perspective in views and decisions.
	Name string
	// Resolver is host:port of the DNS server asked for every lookup
	// (A/AAAA, TXT, CAA), with recursion desired.
	Resolver string
	// HTTPPort and TLSPort are the ports http-01 and tls-alpn-01 connect
	// to (80 and 443 unless set; tests use loopback ports). Redirects
	// are followed only to these ports.
	HTTPPort, TLSPort int
	// Timeout bounds one validation, lookups included (DefaultTimeout
	// unless set).
	Timeout time.Duration
}

// Local validates from this process's network position. It is safe for
// concurrent use.
type Local struct {
	opts LocalOptions
	res  *resolver
}

// NewLocal returns a perspective validating from this process.
func NewLocal(opts LocalOptions) *Local {
	if opts.HTTPPort == 0 {
		opts.HTTPPort = 80
	}
	if opts.TLSPort == 0 {
		opts.TLSPort = 443
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Name == "" {
		opts.Name = "local"
	}
	return &Local{opts: opts, res: &resolver{addr: opts.Resolver}}
}

// Name is the perspective's name.
func (l *Local) Name() string { return l.opts.Name }

// Check asks the resolver for the root's NS records: any answer, even
// a refusal, shows it is reachable; no answer within ctx is an error.
func (l *Local) Check(ctx context.Context) error {
	if _, err := l.res.exchange(ctx, ".", dns.TypeNS); err != nil {
		return fmt.Errorf("resolver: %w", err)
	}
	return nil
}

// Validate checks req's challenge and then CAA (for dns identifiers),
// within the configured timeout. It never returns an error: a failure
// is a View with OK false and an RFC 8555 problem.
func (l *Local) Validate(ctx context.Context, req Request) View {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	v := View{Perspective: l.opts.Name}
	if p := checkRequest(req); p != nil {
		v.Problem = p
		return v
	}
	var p *Problem
	switch req.Type {
	case HTTP01:
		v.Addresses, p = l.http01(ctx, req)
	case DNS01:
		p = l.dns01(ctx, req)
	case TLSALPN01:
		v.Addresses, p = l.tlsALPN01(ctx, req)
	}
	if p == nil && req.Identifier.Type == "dns" {
		p = l.checkCAA(ctx, req)
	}
	if p != nil {
		v.Problem = p
		return v
	}
	v.OK = true
	return v
}

func problem(typ, format string, args ...any) *Problem {
	return &Problem{Type: typ, Detail: fmt.Sprintf(format, args...)}
}

// checkRequest refuses requests no perspective should act on: they would
// otherwise put caller-controlled text into URLs, DNS names or SNI.
func checkRequest(req Request) *Problem {
	switch req.Type {
	case HTTP01, DNS01, TLSALPN01:
	default:
		return problem(ProblemMalformed, "unknown challenge type %q", req.Type)
	}
	id := req.Identifier
	switch id.Type {
	case "dns":
		if !validDNSName(id.Value) {
			return problem(ProblemRejectedID, "identifier %q is not a DNS name", id.Value)
		}
	case "ip":
		a, err := netip.ParseAddr(id.Value)
		if err != nil || a.Zone() != "" || a.String() != id.Value {
			return problem(ProblemRejectedID, "identifier %q is not an IP address in canonical form", id.Value)
		}
		if req.Type == DNS01 {
			return problem(ProblemMalformed, "dns-01 cannot validate an ip identifier")
		}
		if req.Wildcard {
			return problem(ProblemMalformed, "an ip identifier cannot be a wildcard")
		}
	default:
		return problem(ProblemMalformed, "unknown identifier type %q", id.Type)
	}
	if !validToken(req.Token) {
		return problem(ProblemMalformed, "token is not base64url of at least 128 bits")
	}
	if !strings.HasPrefix(req.KeyAuthorization, req.Token+".") || !validToken(req.KeyAuthorization[len(req.Token)+1:]) {
		return problem(ProblemMalformed, "key authorization is not token.thumbprint")
	}
	return nil
}

// validToken reports whether s is unpadded base64url of at least 16
// bytes (RFC 8555 section 8.1 tokens; thumbprints are 43 characters).
func validToken(s string) bool {
	if len(s) < 22 || len(s) > 256 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validDNSName reports whether s is a fully spelled host name of LDH
// labels (no trailing dot, no wildcard: Request.Wildcard carries that),
// not an IP address.
func validDNSName(s string) bool {
	if len(s) == 0 || len(s) > 253 || strings.HasSuffix(s, ".") {
		return false
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return false
	}
	if _, ok := dns.IsDomainName(s); !ok {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// dialer connects to a name through the perspective's resolver: the
// address is looked up here, never by the system resolver, and every
// contacted address is recorded.
type dialer struct {
	l *Local

	mu       sync.Mutex // the HTTP transport may dial from its own goroutine
	addrs    []string
	resolved map[string][]net.IP
}

// dial connects to host:port (host a name or an IP literal), trying each
// resolved address in turn.
func (d *dialer) dial(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		ips, err = d.resolve(ctx, host)
		if err != nil {
			return nil, &dnsError{err}
		}
	}
	var nd net.Dialer
	var errs []string
	for _, ip := range ips {
		addr := net.JoinHostPort(ip.String(), port)
		d.note(ip.String())
		c, err := nd.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err.Error())
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("connecting to %s: %s", hostport, strings.Join(errs, "; "))
}

func (d *dialer) note(ip string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.addrs {
		if a == ip {
			return
		}
	}
	d.addrs = append(d.addrs, ip)
}

// dnsError marks a dial that failed at resolution (problem type dns).
type dnsError struct{ err error }

func (e *dnsError) Error() string { return e.err.Error() }
func (e *dnsError) Unwrap() error { return e.err }

// resolve looks host up once per validation.
func (d *dialer) resolve(ctx context.Context, host string) ([]net.IP, error) {
	key := strings.ToLower(host)
	d.mu.Lock()
	ips, ok := d.resolved[key]
	d.mu.Unlock()
	if ok {
		return ips, nil
	}
	ips, err := d.l.res.addresses(ctx, host)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.resolved == nil {
		d.resolved = map[string][]net.IP{}
	}
	d.resolved[key] = ips
	d.mu.Unlock()
	return ips, nil
}

// addresses returns the contacted addresses so far.
func (d *dialer) addresses() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}
