package egress_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pkid/pkid/core/egress"
)

// fakeDNS answers from a table and counts lookups; each answer for a name
// is consumed in turn (a rebinding attacker changes its answer).
type fakeDNS struct {
	answers map[string][][]string
	calls   atomic.Int32
}

func (f *fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	n := int(f.calls.Add(1)) - 1
	as, ok := f.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	a := as[min(n, len(as)-1)]
	out := make([]netip.Addr, len(a))
	for i, s := range a {
		out[i] = netip.MustParseAddr(s)
	}
	return out, nil
}

func TestNewRejects(t *testing.T) {
	for _, e := range []string{"", "*", "*.", "a..b", "-x.example", "ex ample.com", "http://x.example", "x.example:443", "10.0.0.0/33"} {
		if _, err := egress.New([]string{e}); err == nil {
			t.Errorf("New(%q) accepted it", e)
		}
	}
}

func TestCheck(t *testing.T) {
	dns := &fakeDNS{answers: map[string][][]string{
		"ca.example.com":       {{"203.0.113.9"}},
		"aia.pki.example.net":  {{"198.51.100.7", "2001:db8::7"}},
		"internal.example.com": {{"10.1.2.3"}},
		"metadata.example.com": {{"169.254.169.254"}},
		"mixed.example.com":    {{"10.0.0.1", "203.0.113.10"}},
		"lab.example.org":      {{"192.168.1.5"}},
		"example.net":          {{"203.0.113.11"}},
	}}
	p, err := egress.New([]string{"ca.example.com", "*.example.net", "internal.example.com", "metadata.example.com", "mixed.example.com", "192.168.0.0/16", "127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	p.Resolver = dns
	tests := []struct {
		host string
		want string // allowed addresses, or "" for denied
	}{
		{"ca.example.com", "203.0.113.9"},
		{"CA.Example.COM.", "203.0.113.9"},
		{"aia.pki.example.net", "198.51.100.7 2001:db8::7"}, // suffix; 2001:db8:: is documentation space but global unicast
		{"example.net", ""},                                 // *.example.net does not cover the apex
		{"internal.example.com", ""},                        // a name reaches public addresses only
		{"metadata.example.com", ""},
		{"mixed.example.com", "203.0.113.10"}, // the private answer is dropped
		{"lab.example.org", "192.168.1.5"},    // not a listed name, but its address is in a listed network
		{"127.0.0.1", "127.0.0.1"},
		{"127.0.0.2", ""},
		{"[::1]", "::1"},
		{"::ffff:127.0.0.1", "127.0.0.1"},
		{"192.168.200.1", "192.168.200.1"},
		{"evil.example", ""},
	}
	for _, tt := range tests {
		addrs, err := p.Check(t.Context(), tt.host)
		var got []string
		for _, a := range addrs {
			got = append(got, a.String())
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("Check(%q) = %v, %v; want %q", tt.host, got, err, tt.want)
		}
		if tt.want == "" {
			if !errors.Is(err, egress.ErrDenied) && !strings.Contains(err.Error(), "no such host") {
				t.Errorf("Check(%q) error %v does not wrap ErrDenied", tt.host, err)
			}
			if err != nil && !strings.Contains(err.Error(), strings.Trim(strings.ToLower(tt.host), "[].")) {
				t.Errorf("Check(%q) error %q does not name the host", tt.host, err)
			}
		}
	}
}

func TestZeroPolicyDeniesWithoutResolving(t *testing.T) {
	dns := &fakeDNS{answers: map[string][][]string{"ca.example.com": {{"203.0.113.9"}}}}
	for _, p := range []*egress.Policy{nil, {Resolver: dns}} {
		for _, h := range []string{"ca.example.com", "127.0.0.1", "203.0.113.9"} {
			if _, err := p.Check(t.Context(), h); !errors.Is(err, egress.ErrDenied) {
				t.Errorf("zero policy Check(%q): %v, want ErrDenied", h, err)
			}
		}
		if _, err := p.DialContext(t.Context(), "tcp", "127.0.0.1:1"); !errors.Is(err, egress.ErrDenied) {
			t.Errorf("zero policy DialContext: %v, want ErrDenied", err)
		}
	}
	if n := dns.calls.Load(); n != 0 {
		t.Errorf("the zero policy resolved %d names; it must not resolve at all", n)
	}
	if !(*egress.Policy)(nil).Empty() || !(&egress.Policy{}).Empty() {
		t.Error("the zero policy is not Empty")
	}
}

// listen starts a loopback server answering "hi" to each connection.
func listen(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hi")
			c.Close()
		}
	}()
	return l.Addr().String()
}

func dialRead(t *testing.T, p *egress.Policy, addr string) error {
	t.Helper()
	c, err := p.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	if string(b) != "hi" {
		t.Errorf("read %q from %s", b, addr)
	}
	return nil
}

func TestDialContext(t *testing.T) {
	addr := listen(t)
	_, port, _ := net.SplitHostPort(addr)

	if err := dialRead(t, egress.Unrestricted(), addr); err != nil {
		t.Errorf("Unrestricted dial of loopback: %v", err)
	}
	p, _ := egress.New([]string{"127.0.0.0/8"})
	if err := dialRead(t, p, addr); err != nil {
		t.Errorf("dial of an allowed network: %v", err)
	}
	p, _ = egress.New([]string{"10.0.0.0/8"})
	if err := dialRead(t, p, addr); !errors.Is(err, egress.ErrDenied) {
		t.Errorf("dial outside the allowlist: %v, want ErrDenied", err)
	}

	// Rebinding: the first answer is checked and dialed; the resolver is
	// not asked again, so its second (loopback) answer is never used.
	// (127.0.0.2 is allowed but nothing listens there; 127.0.0.1 is not.)
	dns := &fakeDNS{answers: map[string][][]string{"rebind.example.com": {{"127.0.0.2"}, {"127.0.0.1"}}}}
	p, _ = egress.New([]string{"rebind.example.com", "127.0.0.2"})
	p.Resolver = dns
	if err := dialRead(t, p, net.JoinHostPort("rebind.example.com", port)); err == nil {
		t.Error("the dial reached loopback through a second DNS answer")
	}
	if n := dns.calls.Load(); n != 1 {
		t.Errorf("resolved %d times for one dial, want 1", n)
	}

	// A name allowed by name that resolves to loopback is refused even
	// though the port is open.
	dns = &fakeDNS{answers: map[string][][]string{"local.example.com": {{"127.0.0.1"}}}}
	p, _ = egress.New([]string{"local.example.com"})
	p.Resolver = dns
	if err := dialRead(t, p, net.JoinHostPort("local.example.com", port)); !errors.Is(err, egress.ErrDenied) {
		t.Errorf("name resolving to loopback: %v, want ErrDenied", err)
	}
}

func TestPeerCertificates(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	hostport := strings.TrimPrefix(srv.URL, "https://")
	p, _ := egress.New([]string{"127.0.0.1"})
	certs, err := p.PeerCertificates(t.Context(), hostport, "example.com")
	if err != nil || len(certs) == 0 || !certs[0].Equal(srv.Certificate()) {
		t.Fatalf("PeerCertificates = %d certs, %v; want the server's", len(certs), err)
	}
	if _, err := (&egress.Policy{}).PeerCertificates(t.Context(), hostport, "example.com"); !errors.Is(err, egress.ErrDenied) {
		t.Errorf("zero policy: %v, want ErrDenied", err)
	}
	// A plain-TCP peer fails the handshake, bounded.
	addr := listen(t)
	if _, err := egress.Unrestricted().PeerCertificates(t.Context(), addr, "x"); err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Errorf("handshake with a non-TLS peer: %v", err)
	}
}
