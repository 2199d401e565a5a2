// Package egress decides which network destinations a pkid component may
// dial. The CLI dials whatever its operator names (Unrestricted); the daemon
// dials on behalf of API callers (bundle a domain, chase an AIA URL, scan),
// so it dials only what its configuration allows: a Policy built from an
// allowlist. The zero Policy allows nothing.
//
// DialContext resolves a name once, checks every address it resolved to and
// connects to a checked address, so a DNS answer that changes between the
// check and the connection (DNS rebinding) cannot redirect it.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// ErrDenied is wrapped by every error reporting a destination the policy
// does not allow.
var ErrDenied = errors.New("egress denied")

// Resolver looks names up; *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy is an allowlist of destinations. Its zero value allows nothing.
// A Policy is immutable and safe for concurrent use.
type Policy struct {
	all      bool
	prefixes []netip.Prefix
	names    map[string]bool
	suffixes []string // ".example.com" for "*.example.com"

	// Resolver resolves names (nil: net.DefaultResolver).
	Resolver Resolver
	// Dialer dials the checked address (nil: a net.Dialer with a 10 s
	// timeout).
	Dialer *net.Dialer
}

// Unrestricted returns a policy allowing every destination, loopback
// included: for the CLI, which dials what its operator names.
func Unrestricted() *Policy { return &Policy{all: true} }

// New builds a policy from allowlist entries:
//
//	"192.0.2.0/24", "2001:db8::/32"  a network: any address in it
//	"192.0.2.7", "::1"               one address
//	"ca.example.com"                 that name (any case)
//	"*.example.com"                  any name ending in .example.com (not example.com itself)
//
// An address reached through an allowed name must still be a public one:
// loopback, private, link-local (cloud metadata), multicast and
// unspecified addresses are dialed only when an address or network entry
// allows them, so a name an outsider controls cannot point the daemon at
// its own network. Errors: an entry that is none of the above.
func New(allow []string) (*Policy, error) {
	p := &Policy{names: map[string]bool{}}
	for _, e := range allow {
		e = strings.TrimSpace(e)
		if pfx, err := netip.ParsePrefix(e); err == nil {
			p.prefixes = append(p.prefixes, pfx.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			ip = ip.Unmap()
			p.prefixes = append(p.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		name, wild := strings.CutPrefix(strings.ToLower(strings.TrimSuffix(e, ".")), "*.")
		if !validName(name) {
			return nil, fmt.Errorf("egress: allowlist entry %q is not a network, an address, a host name or *.suffix", e)
		}
		if wild {
			p.suffixes = append(p.suffixes, "."+name)
		} else {
			p.names[name] = true
		}
	}
	return p, nil
}

// validName accepts DNS names: dot-separated labels of letters, digits,
// hyphens and underscores, 1-63 bytes each, 253 in all.
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Unrestricted reports whether the policy allows every destination.
func (p *Policy) Unrestricted() bool { return p != nil && p.all }

// Empty reports whether the policy allows nothing.
func (p *Policy) Empty() bool {
	return p == nil || !p.all && len(p.prefixes) == 0 && len(p.names) == 0 && len(p.suffixes) == 0
}

// nameAllowed reports whether host (lower case, no trailing dot) is an
// allowed name.
func (p *Policy) nameAllowed(host string) bool {
	if p.names[host] {
		return true
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// addrAllowed reports whether ip may be dialed; viaName says the host was
// an allowed name, which admits public addresses only.
func (p *Policy) addrAllowed(ip netip.Addr, viaName bool) bool {
	ip = ip.Unmap()
	for _, pfx := range p.prefixes {
		if pfx.Contains(ip) {
			return true
		}
	}
	return viaName && public(ip)
}

// public reports whether ip is a globally routable unicast address.
func public(ip netip.Addr) bool {
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast()
}

// Check resolves host (a name or an address literal, without port) and
// returns the addresses the policy allows it to be dialed at, in resolver
// order. Errors: one wrapping ErrDenied naming the host when none is
// allowed (the zero Policy always); resolver errors, wrapped.
func (p *Policy) Check(ctx context.Context, host string) ([]netip.Addr, error) {
	if p == nil {
		p = &Policy{}
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		if p.all || p.addrAllowed(ip, false) {
			return []netip.Addr{ip.Unmap()}, nil
		}
		return nil, fmt.Errorf("egress: %s is not on the allowlist: %w", host, ErrDenied)
	}
	viaName := p.nameAllowed(host)
	if !p.all && !viaName && len(p.prefixes) == 0 {
		// Nothing could allow it: do not even resolve (no DNS leak).
		return nil, fmt.Errorf("egress: %s is not on the allowlist: %w", host, ErrDenied)
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("egress: resolving %s: %w", host, err)
	}
	var ok []netip.Addr
	for _, a := range addrs {
		if p.all || p.addrAllowed(a, viaName) {
			ok = append(ok, a.Unmap())
		}
	}
	if len(ok) == 0 {
		return nil, fmt.Errorf("egress: %s (%s) is not on the allowlist: %w", host, joinAddrs(addrs), ErrDenied)
	}
	return ok, nil
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// DialContext dials address ("host:port") if the policy allows it,
// connecting to the addresses Check returned, never resolving again.
// network is "tcp", "tcp4" or "tcp6" (or the udp ones). Errors: as Check;
// the last dial error when every allowed address fails.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	addrs, err := p.Check(ctx, host)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	if p != nil && p.Dialer != nil {
		d = p.Dialer
	}
	var last error
	for _, a := range addrs {
		if (strings.HasSuffix(network, "4") && !a.Is4()) || (strings.HasSuffix(network, "6") && !a.Is6()) {
			continue
		}
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	if last == nil {
		last = fmt.Errorf("no %s address for %s", network, host)
	}
	return nil, fmt.Errorf("egress: dialing %s: %w", address, last)
}

// Transport returns an HTTP transport dialing through the policy, with no
// proxy (a proxy would dial for it, unchecked) and bounded handshakes.
func (p *Policy) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            p.DialContext,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  10 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		DisableKeepAlives:      true,
	}
}
