// Package dnstest is an in-process authoritative DNS server for tests: it
// listens on UDP and TCP on one loopback port and answers every name from
// records the test sets (A, AAAA, TXT, CAA, CNAME), so validation, ACME
// and client tests can point a resolver at it instead of the network.
//
// It answers like an authoritative server for the whole tree: a name
// with records of another type (or an empty non-terminal, a name that
// only has descendants) is NODATA, any other name NXDOMAIN. A CNAME is
// returned for every query type but CNAME and followed within the
// server's data. SetRcode makes a name answer with a fixed error code
// (SERVFAIL, REFUSED, ...) to test resolution failures.
package dnstest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TTL of every answered record.
const TTL = 60

// Server is a running authoritative DNS server. Its methods are safe for
// concurrent use; records may change while it serves.
type Server struct {
	// Addr is host:port, the same port for UDP and TCP.
	Addr string

	udp, tcp *dns.Server
	queries  atomic.Int64
	closed   chan struct{}
	once     sync.Once

	mu     sync.Mutex
	rrs    map[string][]dns.RR // canonical name -> records
	rcodes map[string]int      // canonical name -> forced rcode
	delay  time.Duration
}

// Start starts a server on 127.0.0.1 and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1")
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen starts a server on host (an IP; any port), UDP and TCP on the
// same port. Close stops it.
func Listen(host string) (*Server, error) {
	s := &Server{rrs: map[string][]dns.RR{}, rcodes: map[string]int{}, closed: make(chan struct{})}
	// The UDP port the kernel picks may be taken for TCP: retry a few times.
	var lastErr error
	for range 10 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("listen udp: %w", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		s.Addr = pc.LocalAddr().String()
		s.udp = &dns.Server{PacketConn: pc, Handler: s}
		s.tcp = &dns.Server{Listener: ln, Handler: s}
		if err := startServer(s.udp); err != nil {
			pc.Close()
			ln.Close()
			return nil, err
		}
		if err := startServer(s.tcp); err != nil {
			_ = s.udp.Shutdown()
			ln.Close()
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("listen tcp on the udp port: %w", lastErr)
}

// startServer runs srv and waits until it serves.
func startServer(srv *dns.Server) error {
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	errc := make(chan error, 1)
	go func() { errc <- srv.ActivateAndServe() }()
	select {
	case <-started:
		return nil
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-time.After(5 * time.Second):
		return errors.New("serve: did not start in 5s")
	}
}

// Close stops the server.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closed) })
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
}

// Queries is the number of queries answered so far.
func (s *Server) Queries() int64 { return s.queries.Load() }

// SetDelay makes every answer wait d (to test resolver timeouts).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// SetA replaces name's A records with ips (IPv4 literals); none removes them.
func (s *Server) SetA(name string, ips ...string) {
	s.set(name, dns.TypeA, ips, func(hdr dns.RR_Header, v string) dns.RR {
		ip := net.ParseIP(v).To4()
		if ip == nil {
			panic("dnstest: not an IPv4 address: " + v)
		}
		return &dns.A{Hdr: hdr, A: ip}
	})
}

// SetAAAA replaces name's AAAA records with ips (IPv6 literals).
func (s *Server) SetAAAA(name string, ips ...string) {
	s.set(name, dns.TypeAAAA, ips, func(hdr dns.RR_Header, v string) dns.RR {
		ip := net.ParseIP(v)
		if ip == nil || ip.To4() != nil {
			panic("dnstest: not an IPv6 address: " + v)
		}
		return &dns.AAAA{Hdr: hdr, AAAA: ip}
	})
}

// SetTXT replaces name's TXT records: one record per value, each a
// single string (split into 255-byte strings when longer).
func (s *Server) SetTXT(name string, values ...string) {
	s.set(name, dns.TypeTXT, values, func(hdr dns.RR_Header, v string) dns.RR {
		var parts []string
		for len(v) > 255 {
			parts, v = append(parts, v[:255]), v[255:]
		}
		return &dns.TXT{Hdr: hdr, Txt: append(parts, v)}
	})
}

// CAA is one CAA record (RFC 8659): Flag 128 is the critical bit.
type CAA struct {
	Flag  uint8
	Tag   string
	Value string
}

// SetCAA replaces name's CAA records.
func (s *Server) SetCAA(name string, recs ...CAA) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := dns.CanonicalName(name)
	s.drop(n, dns.TypeCAA)
	for _, c := range recs {
		s.rrs[n] = append(s.rrs[n], &dns.CAA{Hdr: header(n, dns.TypeCAA), Flag: c.Flag, Tag: c.Tag, Value: c.Value})
	}
}

// SetCNAME makes name an alias of target (replacing all of name's other
// records, as DNS requires); an empty target removes the alias.
func (s *Server) SetCNAME(name, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := dns.CanonicalName(name)
	delete(s.rrs, n)
	if target != "" {
		s.rrs[n] = []dns.RR{&dns.CNAME{Hdr: header(n, dns.TypeCNAME), Target: dns.CanonicalName(target)}}
	}
}

// SetRcode makes queries for name answer rcode (e.g. dns.RcodeServerFailure)
// with no records; dns.RcodeSuccess clears it.
func (s *Server) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := dns.CanonicalName(name)
	if rcode == dns.RcodeSuccess {
		delete(s.rcodes, n)
		return
	}
	s.rcodes[n] = rcode
}

// Delete removes every record of name.
func (s *Server) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := dns.CanonicalName(name)
	delete(s.rrs, n)
	delete(s.rcodes, n)
}

func header(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
}

func (s *Server) set(name string, t uint16, values []string, mk func(dns.RR_Header, string) dns.RR) {
	n := dns.CanonicalName(name)
	rrs := make([]dns.RR, 0, len(values))
	for _, v := range values {
		rrs = append(rrs, mk(header(n, t), v))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop(n, t)
	s.rrs[n] = append(s.rrs[n], rrs...)
	// A name with data cannot also be an alias.
	s.drop(n, dns.TypeCNAME)
}

// drop removes name's records of type t; s.mu is held.
func (s *Server) drop(name string, t uint16) {
	kept := s.rrs[name][:0]
	for _, rr := range s.rrs[name] {
		if rr.Header().Rrtype != t {
			kept = append(kept, rr)
		}
	}
	if len(kept) == 0 {
		delete(s.rrs, name)
		return
	}
	s.rrs[name] = kept
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	s.mu.Lock()
	delay := s.delay
	s.answer(m, q)
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-s.closed:
			return
		}
	}
	// Over UDP, truncate to the client's buffer (512 without EDNS0) so
	// that large answers exercise the TCP retry.
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if o := req.IsEdns0(); o != nil {
			size = int(o.UDPSize())
			m.SetEdns0(o.UDPSize(), false)
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

// answer fills m for q, following CNAMEs within the data; s.mu is held.
func (s *Server) answer(m *dns.Msg, q dns.Question) {
	name := dns.CanonicalName(q.Name)
	for range 8 {
		if rc, ok := s.rcodes[name]; ok {
			m.Rcode = rc
			return
		}
		rrs := s.rrs[name]
		if len(rrs) == 1 && rrs[0].Header().Rrtype == dns.TypeCNAME && q.Qtype != dns.TypeCNAME {
			m.Answer = append(m.Answer, dns.Copy(rrs[0]))
			name = rrs[0].(*dns.CNAME).Target
			continue
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
		if len(rrs) == 0 && !s.hasDescendant(name) {
			// NXDOMAIN also ends a dangling CNAME chain (RFC 6604).
			m.Rcode = dns.RcodeNameError
		}
		return
	}
}

// hasDescendant reports whether a name below name has data (so name is
// an empty non-terminal: NODATA, not NXDOMAIN); s.mu is held.
func (s *Server) hasDescendant(name string) bool {
	for n := range s.rrs {
		if strings.HasSuffix(n, "."+name) || name == "." {
			return true
		}
	}
	return false
}
