package scan

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/pkid/pkid/core/egress"
)

// ErrDenied: the policy does not allow dialling a target (egress.ErrDenied).
var ErrDenied = egress.ErrDenied

// Policy decides which addresses checks may dial; *egress.Policy
// implements it. Checks run out of process and dial themselves, so the
// runner cannot wrap their connections: under a Policy it asks the policy
// for the target's allowed addresses and pins the first
// (sdk.ScanRequest.IP), and checks honour a pinned IP instead of resolving
// (the sdk's contract). Resolving once here also defeats DNS rebinding.
type Policy interface {
	// Check resolves host (a name or an address literal, without port)
	// and returns the addresses the policy allows it to be dialled at.
	// Errors: one wrapping ErrDenied naming the host when none is allowed;
	// resolver errors.
	Check(ctx context.Context, host string) ([]netip.Addr, error)
}

// pin returns the address the checks of t must dial under p: t.IP when
// set (checked as an address), else the first allowed address of the
// host's name.
func pin(ctx context.Context, p Policy, t Target) (string, error) {
	name, _, err := net.SplitHostPort(t.Host)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadTarget, err)
	}
	if t.IP != "" {
		a, err := netip.ParseAddr(t.IP)
		if err != nil {
			return "", fmt.Errorf("%w: ip %q is not an IP address", ErrBadTarget, t.IP)
		}
		name = a.String()
	}
	addrs, err := p.Check(ctx, name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", t.Host, err)
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("%s: no allowed address: %w", t.Host, ErrDenied)
	}
	return addrs[0].Unmap().String(), nil
}
