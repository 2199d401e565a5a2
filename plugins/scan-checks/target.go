package scanchecks

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pkid/pkid/sdk"
)

// target is a validated scan target.
type target struct {
	// name is the host name (or IP literal) checked against certificates
	// and sent as SNI when it is not an IP.
	name string
	port string
	// ip is the caller's address to dial instead of resolving name.
	ip string
}

// parseTarget validates req's Host and IP. Errors wrap
// sdk.ErrInvalidArgument.
func parseTarget(req sdk.ScanRequest) (*target, error) {
	host, port := req.Host, "443"
	if h, p, err := net.SplitHostPort(req.Host); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if host == "" {
		return nil, fmt.Errorf("scan-checks: no host given: %w", sdk.ErrInvalidArgument)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("scan-checks: port %q of %q is not 1-65535: %w", port, req.Host, sdk.ErrInvalidArgument)
	}
	if net.ParseIP(host) == nil && !validHostname(host) {
		return nil, fmt.Errorf("scan-checks: %q is not a host name or IP address: %w", host, sdk.ErrInvalidArgument)
	}
	t := &target{name: host, port: port}
	if req.IP != "" {
		ip := net.ParseIP(req.IP)
		if ip == nil {
			return nil, fmt.Errorf("scan-checks: %q is not an IP address: %w", req.IP, sdk.ErrInvalidArgument)
		}
		t.ip = ip.String()
	}
	return t, nil
}

// validHostname accepts LDH labels (and "_", seen in real names) of 1-63
// bytes, 253 bytes in all, with an optional trailing dot.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			ok := r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
			if !ok {
				return false
			}
		}
	}
	return true
}

// sni is the server name sent in the ClientHello: empty for an IP literal.
func (t *target) sni() string {
	if net.ParseIP(t.name) != nil {
		return ""
	}
	return strings.TrimSuffix(t.name, ".")
}

// addrs returns the addresses to scan: the caller's IP, or every address
// name resolves to.
func (t *target) addrs(ctx context.Context) ([]string, error) {
	if t.ip != "" {
		return []string{t.ip}, nil
	}
	if ip := net.ParseIP(t.name); ip != nil {
		return []string{ip.String()}, nil
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, t.name)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", t.name, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolving %s: no addresses", t.name)
	}
	return addrs, nil
}

// dialAddr is host:port for one address.
func (t *target) dialAddr(addr string) string { return net.JoinHostPort(addr, t.port) }
