package validation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxCNAMEHops bounds alias chains (and loops).
const maxCNAMEHops = 8

// errNXDomain and errServer classify failed lookups: NXDOMAIN is an
// answer (the name does not exist), errServer is a resolver that could
// not answer (SERVFAIL, REFUSED, ...).
var (
	errNXDomain = errors.New("NXDOMAIN")
	errServer   = errors.New("resolver failure")
)

// resolver asks one DNS server (the perspective's configured resolver)
// with recursion desired, over UDP with a TCP retry on truncation.
type resolver struct {
	addr string
}

// exchange sends one query; the context bounds it.
func (r *resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	if r.addr == "" {
		return nil, fmt.Errorf("query %s %s: %w: no resolver configured", dns.TypeToString[qtype], name, errServer)
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	// miekg/dns reads the deadline from the context but also applies
	// its own default 2s timeouts: give it what remains.
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	c := &dns.Client{Net: "udp", Timeout: timeout}
	resp, _, err := c.ExchangeContext(ctx, m, r.addr)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, r.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("query %s %s at %s: %w", dns.TypeToString[qtype], name, r.addr, err)
	}
	if resp.Id != m.Id {
		return nil, fmt.Errorf("query %s %s at %s: answer id mismatch", dns.TypeToString[qtype], name, r.addr)
	}
	return resp, nil
}

// lookup returns the records of qtype for name, following CNAMEs (in the
// answer, and by asking again when a chain ends without data). NODATA
// is no records and no error; NXDOMAIN wraps errNXDomain; an answer
// with another error code wraps errServer.
func (r *resolver) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	target := dns.CanonicalName(name)
	seen := map[string]bool{}
	for range maxCNAMEHops {
		if seen[target] {
			return nil, fmt.Errorf("CNAME loop at %s", target)
		}
		seen[target] = true
		resp, err := r.exchange(ctx, target, qtype)
		if err != nil {
			return nil, err
		}
		// Walk the answer's chain from target.
		var out []dns.RR
		next := target
		for range maxCNAMEHops {
			follow := ""
			for _, rr := range resp.Answer {
				h := rr.Header()
				if dns.CanonicalName(h.Name) != next || h.Class != dns.ClassINET {
					continue
				}
				switch {
				case h.Rrtype == qtype:
					out = append(out, rr)
				case h.Rrtype == dns.TypeCNAME && qtype != dns.TypeCNAME:
					follow = dns.CanonicalName(rr.(*dns.CNAME).Target)
				}
			}
			if len(out) > 0 || follow == "" {
				break
			}
			if seen[follow] {
				return nil, fmt.Errorf("CNAME loop at %s", follow)
			}
			seen[follow] = true
			next = follow
		}
		if len(out) > 0 {
			return out, nil
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			return nil, fmt.Errorf("%s %s: %w", dns.TypeToString[qtype], next, errNXDomain)
		default:
			return nil, fmt.Errorf("%s %s: %s: %w", dns.TypeToString[qtype], next, dns.RcodeToString[resp.Rcode], errServer)
		}
		if next == target {
			return nil, nil // NODATA
		}
		// The chain ended at an alias whose data was not included: ask for it.
		target = next
		delete(seen, target)
	}
	return nil, fmt.Errorf("%s %s: more than %d CNAMEs", dns.TypeToString[qtype], name, maxCNAMEHops)
}

// addresses resolves name to its IPv6 and IPv4 addresses (AAAA first,
// as RFC 8555 section 8.3 clients are expected to be reachable on both
// and IPv6 is preferred when present).
func (r *resolver) addresses(ctx context.Context, name string) ([]net.IP, error) {
	var ips []net.IP
	var errs []string
	for _, t := range []uint16{dns.TypeAAAA, dns.TypeA} {
		rrs, err := r.lookup(ctx, name, t)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("resolving %s: %w", name, ctx.Err())
			}
			errs = append(errs, err.Error())
			continue
		}
		for _, rr := range rrs {
			switch rr := rr.(type) {
			case *dns.AAAA:
				ips = append(ips, rr.AAAA)
			case *dns.A:
				ips = append(ips, rr.A)
			}
		}
	}
	if len(ips) == 0 {
		if len(errs) > 0 {
			return nil, fmt.Errorf("resolving %s: %s", name, strings.Join(errs, "; "))
		}
		return nil, fmt.Errorf("resolving %s: no A or AAAA records", name)
	}
	return ips, nil
}
