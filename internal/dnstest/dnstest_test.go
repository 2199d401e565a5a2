package dnstest

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func exchange(t *testing.T, s *Server, netw, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: netw, Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, _, err := c.Exchange(m, s.Addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", netw, name, dns.TypeToString[qtype], err)
	}
	return r
}

func answers(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	return out
}

func TestAnswers(t *testing.T) {
	s := Start(t)
	s.SetA("www.example.test", "127.0.0.2", "127.0.0.3")
	s.SetAAAA("www.example.test", "::1")
	s.SetTXT("_acme-challenge.www.example.test", "abc")
	s.SetCAA("example.test", CAA{Tag: "issue", Value: "ca.test; accounturi=https://x/acct/1"}, CAA{Flag: 128, Tag: "tbs", Value: "x"})
	s.SetCNAME("alias.example.test", "www.example.test")
	s.SetCNAME("dangling.example.test", "nowhere.example.test")
	s.SetRcode("broken.example.test", dns.RcodeServerFailure)

	tests := []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"www.example.test", dns.TypeA, dns.RcodeSuccess, []string{
			"www.example.test. 60 IN A 127.0.0.2", "www.example.test. 60 IN A 127.0.0.3"}},
		{"WWW.Example.Test", dns.TypeAAAA, dns.RcodeSuccess, []string{"www.example.test. 60 IN AAAA ::1"}},
		{"_acme-challenge.www.example.test", dns.TypeTXT, dns.RcodeSuccess, []string{
			`_acme-challenge.www.example.test. 60 IN TXT "abc"`}},
		{"example.test", dns.TypeCAA, dns.RcodeSuccess, []string{
			`example.test. 60 IN CAA 0 issue "ca.test; accounturi=https://x/acct/1"`,
			`example.test. 60 IN CAA 128 tbs "x"`}},
		// NODATA: the name has other types.
		{"www.example.test", dns.TypeCAA, dns.RcodeSuccess, nil},
		// NODATA: an empty non-terminal.
		{"test", dns.TypeA, dns.RcodeSuccess, nil},
		{"nope.example.test", dns.TypeA, dns.RcodeNameError, nil},
		{"alias.example.test", dns.TypeA, dns.RcodeSuccess, []string{
			"alias.example.test. 60 IN CNAME www.example.test.",
			"www.example.test. 60 IN A 127.0.0.2", "www.example.test. 60 IN A 127.0.0.3"}},
		{"alias.example.test", dns.TypeCNAME, dns.RcodeSuccess, []string{
			"alias.example.test. 60 IN CNAME www.example.test."}},
		// The alias is returned; its target does not exist.
		{"dangling.example.test", dns.TypeA, dns.RcodeNameError, []string{
			"dangling.example.test. 60 IN CNAME nowhere.example.test."}},
		{"broken.example.test", dns.TypeA, dns.RcodeServerFailure, nil},
	}
	for _, netw := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			r := exchange(t, s, netw, tt.name, tt.qtype)
			if r.Rcode != tt.rcode || !r.Authoritative {
				t.Errorf("%s %s %s: rcode %s aa %v, want %s aa", netw, tt.name, dns.TypeToString[tt.qtype],
					dns.RcodeToString[r.Rcode], r.Authoritative, dns.RcodeToString[tt.rcode])
			}
			if got := answers(r); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("%s %s %s:\n got %q\nwant %q", netw, tt.name, dns.TypeToString[tt.qtype], got, tt.want)
			}
		}
	}

	// Changing records takes effect at once; clearing restores NXDOMAIN.
	s.SetRcode("broken.example.test", dns.RcodeSuccess)
	s.SetA("broken.example.test", "127.0.0.9")
	if got := answers(exchange(t, s, "udp", "broken.example.test", dns.TypeA)); len(got) != 1 {
		t.Errorf("after SetA: %q", got)
	}
	s.Delete("broken.example.test")
	if r := exchange(t, s, "udp", "broken.example.test", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("after Delete: rcode %s", dns.RcodeToString[r.Rcode])
	}
	if s.Queries() < int64(2*len(tests)) {
		t.Errorf("Queries() = %d", s.Queries())
	}
}

// A large answer is truncated over UDP and complete over TCP.
func TestTruncation(t *testing.T) {
	s := Start(t)
	var vals []string
	for i := range 20 {
		vals = append(vals, strings.Repeat(string(rune('a'+i)), 100))
	}
	s.SetTXT("big.test", vals...)
	s.SetTXT("long.test", strings.Repeat("x", 600))
	if r := exchange(t, s, "udp", "big.test", dns.TypeTXT); !r.Truncated || len(r.Answer) >= 20 {
		t.Errorf("udp: truncated %v with %d answers", r.Truncated, len(r.Answer))
	}
	if r := exchange(t, s, "tcp", "big.test", dns.TypeTXT); r.Truncated || len(r.Answer) != 20 {
		t.Errorf("tcp: truncated %v with %d answers", r.Truncated, len(r.Answer))
	}
	r := exchange(t, s, "tcp", "long.test", dns.TypeTXT)
	if len(r.Answer) != 1 || strings.Join(r.Answer[0].(*dns.TXT).Txt, "") != strings.Repeat("x", 600) {
		t.Errorf("long TXT: %v", r.Answer)
	}
}

func TestDelay(t *testing.T) {
	s := Start(t)
	s.SetA("slow.test", "127.0.0.1")
	s.SetDelay(300 * time.Millisecond)
	c := &dns.Client{Net: "udp", Timeout: 100 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("slow.test.", dns.TypeA)
	if _, _, err := c.Exchange(m, s.Addr); err == nil {
		t.Fatal("a 300ms answer arrived within a 100ms timeout")
	}
}
