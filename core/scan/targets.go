package scan

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultPort is the port of a target named without one.
const DefaultPort = "443"

// MaxCIDRBits is the largest range, in host bits, a target list may expand
// without Force: 16 bits (an IPv4 /16, an IPv6 /112).
const MaxCIDRBits = 16

// MaxForcedCIDRBits bounds even a forced range (an IPv4 /8): a larger one
// is a mistake, not a scan.
const MaxForcedCIDRBits = 24

// MaxCSVHosts is how many hosts a CSV input may name.
const MaxCSVHosts = 1 << 20

// maxCSVField bounds one CSV field: a host name is at most 253 bytes.
const maxCSVField = 1024

// Errors of target parsing; the returned errors wrap them.
var (
	// ErrBadTarget: a target that is not host[:port] or CIDR[:port].
	ErrBadTarget = errors.New("invalid target")
	// ErrRangeTooLarge: a CIDR range larger than MaxCIDRBits without Force
	// (or MaxForcedCIDRBits with it).
	ErrRangeTooLarge = errors.New("range too large")
)

// Target is one host to scan.
type Target struct {
	// Host is host:port, the name checked against certificates.
	Host string
	// IP, when set, is the address to dial instead of resolving Host.
	IP string
}

// NormalizeHost returns host:port for host[:port] (port DefaultPort when
// absent), or an error wrapping ErrBadTarget. IPv6 literals need brackets
// when a port is given ("[::1]:8443"); a bare "::1" is taken as an address.
func NormalizeHost(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty host", ErrBadTarget)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil {
			if !validZone(a.Zone()) {
				return "", fmt.Errorf("%w: %q: zone %q is not an interface name", ErrBadTarget, s, a.Zone())
			}
			host, port = a.String(), DefaultPort
		} else if strings.Contains(s, ":") && !strings.HasSuffix(s, ":") {
			return "", fmt.Errorf("%w: %q is not host[:port]", ErrBadTarget, s)
		} else {
			host, port = strings.TrimSuffix(s, ":"), DefaultPort
		}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("%w: %q: port %q is not 1-65535", ErrBadTarget, s, port)
	}
	if a, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
		return "", fmt.Errorf("%w: %q is not a host name or address", ErrBadTarget, host)
	} else if err == nil && !validZone(a.Zone()) {
		return "", fmt.Errorf("%w: %q: zone %q is not an interface name", ErrBadTarget, s, a.Zone())
	}
	return net.JoinHostPort(host, port), nil
}

// validZone: an IPv6 zone is an interface name (netip accepts any bytes
// after '%', and "::%]" would not survive host:port joining).
func validZone(z string) bool {
	if len(z) > 64 {
		return false
	}
	for _, r := range z {
		if !(r == '-' || r == '_' || r == '.' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) {
			return false
		}
	}
	return true
}

// validHostname: letters, digits, '-', '_' and dots, labels of 1-63 bytes,
// at most 253 bytes (a trailing dot allowed).
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			ok := r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
			if !ok {
				return false
			}
		}
	}
	return true
}

// TargetsRequest asks Expand for the targets named by a list.
type TargetsRequest struct {
	// Args are host[:port] names and CIDR[:port] ranges ("10.0.0.0/24",
	// "127.0.0.0/30:8443").
	Args []string
	// IP is the address every host target dials (not ranges).
	IP string
	// Force allows ranges up to MaxForcedCIDRBits host bits.
	Force bool
}

// Expand checks every argument and returns the targets as a sequence: a
// range is expanded lazily, so a forced /8 costs no memory. Errors wrap
// ErrBadTarget or ErrRangeTooLarge and name the argument.
func Expand(req TargetsRequest) (iter.Seq[Target], int, error) {
	type item struct {
		host   string
		prefix netip.Prefix
		port   string
	}
	var items []item
	total := 0
	if req.IP != "" {
		if _, err := netip.ParseAddr(req.IP); err != nil {
			return nil, 0, fmt.Errorf("%w: -ip %q is not an IP address", ErrBadTarget, req.IP)
		}
	}
	for _, a := range req.Args {
		if p, port, ok, err := parseRange(a); ok {
			if err != nil {
				return nil, 0, err
			}
			bits := p.Addr().BitLen() - p.Bits()
			limit := MaxCIDRBits
			if req.Force {
				limit = MaxForcedCIDRBits
			}
			if bits > limit {
				hint := " (pass -force to scan up to /" + strconv.Itoa(p.Addr().BitLen()-MaxForcedCIDRBits) + ")"
				if req.Force {
					hint = ""
				}
				return nil, 0, fmt.Errorf("%w: %s has 2^%d addresses, more than 2^%d%s", ErrRangeTooLarge, a, bits, limit, hint)
			}
			items = append(items, item{prefix: p.Masked(), port: port})
			total += 1 << bits
			continue
		}
		h, err := NormalizeHost(a)
		if err != nil {
			return nil, 0, err
		}
		items = append(items, item{host: h})
		total++
	}
	seq := func(yield func(Target) bool) {
		for _, it := range items {
			if it.host != "" {
				if !yield(Target{Host: it.host, IP: req.IP}) {
					return
				}
				continue
			}
			for a := it.prefix.Addr(); a.IsValid() && it.prefix.Contains(a); a = a.Next() {
				if !yield(Target{Host: net.JoinHostPort(a.String(), it.port)}) {
					return
				}
			}
		}
	}
	return seq, total, nil
}

// parseRange recognises CIDR[:port]; ok is false for anything without a
// '/', which is then a host.
func parseRange(a string) (p netip.Prefix, port string, ok bool, err error) {
	if !strings.Contains(a, "/") {
		return p, "", false, nil
	}
	cidr, port := a, DefaultPort
	if h, pt, serr := net.SplitHostPort(a); serr == nil {
		cidr, port = h, pt
	}
	p, err = netip.ParsePrefix(cidr)
	if err != nil {
		return p, "", true, fmt.Errorf("%w: %q is not a CIDR range", ErrBadTarget, a)
	}
	if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
		return p, "", true, fmt.Errorf("%w: %q: port %q is not 1-65535", ErrBadTarget, a, port)
	}
	return p, port, true, nil
}

// ReadCSV reads CFSSL's scan -input format: one record per line, the host
// in the last field (so "rank,host" top-site lists work as they are);
// fields may differ in number per line; empty hosts are skipped. At most
// max hosts are read (0: MaxCSVHosts): more is an error, not a silent cut.
// Each host is checked with NormalizeHost; errors name the line.
func ReadCSV(r io.Reader, max int) ([]string, error) {
	if max <= 0 || max > MaxCSVHosts {
		max = MaxCSVHosts
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var hosts []string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return hosts, nil
		}
		if err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
		line, _ := cr.FieldPos(0) // only after a record: it panics after an error
		h := strings.TrimSpace(rec[len(rec)-1])
		if h == "" {
			continue
		}
		if len(h) > maxCSVField {
			return nil, fmt.Errorf("csv: line %d: %w: a host of %d bytes", line, ErrBadTarget, len(h))
		}
		if len(hosts) == max {
			return nil, fmt.Errorf("csv: more than %d hosts", max)
		}
		if strings.Contains(h, "/") {
			return nil, fmt.Errorf("csv: line %d: %w: %q: ranges are not read from files", line, ErrBadTarget, h)
		}
		if _, err := NormalizeHost(h); err != nil {
			return nil, fmt.Errorf("csv: line %d: %w", line, err)
		}
		hosts = append(hosts, h)
	}
}
