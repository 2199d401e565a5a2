package scan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrDenied: the policy does not allow dialling a target.
var ErrDenied = errors.New("target not allowed")

// Policy decides which addresses the runner may have checks dial. Checks
// run out of process and dial themselves, so the runner cannot wrap their
// connections: under a Policy it resolves each target, asks the policy
// about the address and pins it (sdk.ScanRequest.IP), and checks honour a
// pinned IP instead of resolving (the sdk's contract).
type Policy interface {
	// Allow returns nil when host (host:port) may be dialled at ip, else
	// an error wrapping ErrDenied that names them.
	Allow(host string, ip netip.Addr) error
}

// Allowlist allows the addresses inside any of its prefixes.
type Allowlist []netip.Prefix

// ParseAllowlist parses CIDR ranges and single addresses.
func ParseAllowlist(entries []string) (Allowlist, error) {
	var l Allowlist
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if p, err := netip.ParsePrefix(e); err == nil {
			l = append(l, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("scan: allowlist entry %q is not a CIDR range or an IP address", e)
		}
		l = append(l, netip.PrefixFrom(a, a.BitLen()))
	}
	return l, nil
}

// Allow implements Policy.
func (l Allowlist) Allow(host string, ip netip.Addr) error {
	ip = ip.Unmap()
	for _, p := range l {
		if p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s (%s) is outside the allowed networks", ErrDenied, host, ip)
}

// Resolver looks up a host's addresses (net.DefaultResolver.LookupNetIP
// with network "ip").
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

func defaultResolver(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// pin returns the address the checks of t must dial under policy: t.IP,
// an address literal, or the first address host resolves to. Every
// resolved address must be allowed, so a name that resolves partly
// outside the networks is refused rather than half-scanned.
func pin(ctx context.Context, p Policy, resolve Resolver, t Target) (string, error) {
	name, _, err := net.SplitHostPort(t.Host)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadTarget, err)
	}
	var addrs []netip.Addr
	switch {
	case t.IP != "":
		a, err := netip.ParseAddr(t.IP)
		if err != nil {
			return "", fmt.Errorf("%w: ip %q is not an IP address", ErrBadTarget, t.IP)
		}
		addrs = []netip.Addr{a}
	default:
		if a, err := netip.ParseAddr(name); err == nil {
			addrs = []netip.Addr{a}
		} else if addrs, err = resolve(ctx, name); err != nil {
			return "", fmt.Errorf("resolving %s: %w", name, err)
		} else if len(addrs) == 0 {
			return "", fmt.Errorf("resolving %s: no addresses", name)
		}
	}
	for _, a := range addrs {
		if err := p.Allow(t.Host, a); err != nil {
			return "", err
		}
	}
	return addrs[0].Unmap().String(), nil
}
