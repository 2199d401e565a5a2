package validation

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/pkid/pkid/internal/dnstest"
)

type caaAt struct {
	name string
	recs []dnstest.CAA
}

func issue(v string) dnstest.CAA     { return dnstest.CAA{Tag: "issue", Value: v} }
func issuewild(v string) dnstest.CAA { return dnstest.CAA{Tag: "issuewild", Value: v} }

// TestCAA runs dns-01 validations (the TXT record is right) against CAA
// record sets, each test in its own zone.
func TestCAA(t *testing.T) {
	const acct = "https://ca.test/acme/acct/1"
	tests := []struct {
		name     string
		records  []caaAt
		cname    [2]string // alias, target
		rcode    map[string]int
		wildcard bool
		ids      []string
		typ      string // challenge type, dns-01 unless set
		detail   string // "" when allowed, else a substring of the caa problem
	}{
		{name: "no records anywhere"},
		{name: "issue for this CA at the name", records: []caaAt{{"www.zone.test", []dnstest.CAA{issue("ca.test")}}}},
		{name: "issue for this CA at the parent", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test")}}}},
		{name: "issue for this CA at the TLD", records: []caaAt{{"test", []dnstest.CAA{issue("ca.test")}}}},
		{name: "issuer case and spacing", records: []caaAt{{"zone.test", []dnstest.CAA{issue("  CA.Test\t;  ")}}}},
		{name: "tag case", records: []caaAt{{"zone.test", []dnstest.CAA{{Tag: "ISSUE", Value: "other.test"}}}}, detail: "names another CA"},
		{name: "another CA", records: []caaAt{{"zone.test", []dnstest.CAA{issue("other.test")}}}, detail: `issue "other.test": names another CA`},
		{name: "one of several", records: []caaAt{{"zone.test", []dnstest.CAA{issue("other.test"), issue("ca.test")}}}},
		{name: "no CA", records: []caaAt{{"zone.test", []dnstest.CAA{issue(";")}}}, detail: "forbids every CA"},
		{name: "no identities", ids: []string{}, records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test")}}}, detail: "names another CA"},
		{name: "closest record set wins", records: []caaAt{{"zone.test", []dnstest.CAA{issue(";")}}, {"www.zone.test", []dnstest.CAA{issue("ca.test")}}}},
		{name: "closest forbids", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test")}}, {"www.zone.test", []dnstest.CAA{issue("other.test")}}}, detail: "CAA records at www.zone.test"},
		{name: "only iodef at the name stops the climb", records: []caaAt{{"zone.test", []dnstest.CAA{issue(";")}}, {"www.zone.test", []dnstest.CAA{{Tag: "iodef", Value: "mailto:a@zone.test"}}}}},
		{name: "unknown critical tag", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test"), {Flag: 128, Tag: "tbs", Value: "x"}}}}, detail: `unknown critical property "tbs"`},
		{name: "unknown non-critical tag", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test"), {Tag: "tbs", Value: "x"}}}}},
		{name: "critical known tag", records: []caaAt{{"zone.test", []dnstest.CAA{{Flag: 128, Tag: "issue", Value: "ca.test"}}}}},
		{name: "malformed value authorizes nobody", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test; junk")}}}, detail: "has no '='"},
		{name: "accounturi of this account", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test; accounturi=" + acct)}}}},
		{name: "accounturi of another account", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test; accounturi=https://ca.test/acme/acct/2")}}}, detail: "accounturi names another account"},
		{name: "accounturi twice", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test; accounturi=" + acct + "; accounturi=" + acct)}}}, detail: "given twice"},
		{name: "accounturi tag case", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test; AccountURI=https://x/2")}}}, detail: "another account"},
		{name: "validationmethods includes", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test; validationmethods=http-01,dns-01")}}}},
		{name: "validationmethods excludes", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test; validationmethods=http-01,tls-alpn-01")}}}, detail: "validationmethods excludes dns-01"},
		{name: "both parameters", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test; validationmethods=dns-01; accounturi=" + acct + "; other=1")}}}},
		{name: "wildcard reads issuewild", wildcard: true, records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test"), issuewild(";")}}}, detail: "no issuewild record"},
		{name: "non-wildcard ignores issuewild", records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test"), issuewild(";")}}}},
		{name: "wildcard allowed by issuewild", wildcard: true, records: []caaAt{{"zone.test", []dnstest.CAA{issue(";"), issuewild("ca.test")}}}},
		{name: "wildcard falls back to issue", wildcard: true, records: []caaAt{{"zone.test", []dnstest.CAA{issue("other.test")}}}, detail: "no issue record"},
		{name: "alias target's records count", cname: [2]string{"www.zone.test", "cdn.elsewhere.test"},
			records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test")}}, {"cdn.elsewhere.test", []dnstest.CAA{issue("other.test")}}}, detail: "names another CA"},
		// The climb is over the original name's parents, not the target's.
		{name: "alias target's parent does not count", cname: [2]string{"www.zone.test", "cdn.elsewhere.test"},
			records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test")}}, {"elsewhere.test", []dnstest.CAA{issue(";")}}}},
		{name: "servfail refuses", rcode: map[string]int{"zone.test": dns.RcodeServerFailure}, detail: "caa lookup failed for zone.test"},
		{name: "refused refuses", rcode: map[string]int{"www.zone.test": dns.RcodeRefused}, detail: "REFUSED"},
		{name: "http-01 excluded", typ: HTTP01, records: []caaAt{{"zone.test", []dnstest.CAA{issue("ca.test; validationmethods=dns-01")}}}, detail: "excludes http-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			s.SetTXT("_acme-challenge.www.zone.test", digest())
			s.SetA("www.zone.test", "127.0.0.1")
			for _, r := range tt.records {
				s.SetCAA(r.name, r.recs...)
			}
			if tt.cname[0] != "" {
				s.SetCNAME(tt.cname[0], tt.cname[1])
				s.SetA(tt.cname[1], "127.0.0.1")
			}
			for n, rc := range tt.rcode {
				s.SetRcode(n, rc)
			}
			l := NewLocal(LocalOptions{Resolver: s.Addr, Timeout: 2 * time.Second})
			req := dnsReq("www.zone.test")
			req.Wildcard = tt.wildcard
			if tt.ids != nil {
				req.CAAIdentities = tt.ids
			}
			var p *Problem
			if tt.typ != "" {
				// Check CAA alone: the challenge is not what is tested.
				req.Type = tt.typ
				p = l.checkCAA(context.Background(), req)
			} else if v := l.Validate(context.Background(), req); !v.OK {
				p = v.Problem
			}
			if tt.detail == "" {
				if p != nil {
					t.Fatalf("refused: %+v", p)
				}
				return
			}
			if p == nil || p.Type != ProblemCAA || !strings.Contains(p.Detail, tt.detail) {
				t.Fatalf("problem %+v, want caa containing %q", p, tt.detail)
			}
		})
	}
}

// A resolver that does not answer refuses within the timeout.
func TestCAATimeout(t *testing.T) {
	s := dnstest.Start(t)
	s.SetDelay(2 * time.Second)
	l := NewLocal(LocalOptions{Resolver: s.Addr})
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	p := l.checkCAA(ctx, dnsReq("www.zone.test"))
	if p == nil || p.Type != ProblemCAA {
		t.Fatalf("%+v", p)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

func TestParseCAAValue(t *testing.T) {
	tests := []struct {
		in, out, err string
	}{
		{in: "ca.test", out: "ca.test"},
		{in: "CA.test ; ", out: "ca.test"},
		{in: ";", out: ";"},
		{in: "", out: ";"},
		{in: " ; a=b", out: "; a=b"},
		{in: "ca.test;a=b;c-d = e=f", out: "ca.test; a=b; c-d=e=f"},
		{in: "ca.test; a=", out: "ca.test; a="},
		{in: "ca.test; accounturi=https://ca.test/acct/1", out: "ca.test; accounturi=https://ca.test/acct/1"},
		{in: "ca.test.", err: "not a domain name"},
		{in: "-ca.test", err: "not a domain name"},
		{in: "ca..test", err: "not a domain name"},
		{in: "ca test", err: "not a domain name"},
		{in: "ca.test; a", err: "no '='"},
		{in: "ca.test; a=b;", err: "no '='"},
		{in: "ca.test; -a=b", err: "parameter tag"},
		{in: "ca.test; a b=c", err: "parameter tag"},
		{in: "ca.test; a=b c", err: "value with"},
		{in: "ca.test; a=é", err: "value with"},
	}
	for _, tt := range tests {
		v, err := ParseCAAValue(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || v.String() != tt.out {
			t.Errorf("%q: %q, %v; want %q", tt.in, v.String(), err, tt.out)
		}
	}
}

// FuzzParseCAAValue: CAA values come from any domain's DNS. Parsing never
// panics, and a parsed value formats to text that parses to the same.
func FuzzParseCAAValue(f *testing.F) {
	for _, s := range []string{"ca.test", ";", "ca.test; accounturi=https://x/1; validationmethods=http-01,dns-01", " a ; b = c ", "a;b", "a; b=c;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseCAAValue(s)
		if err != nil {
			return
		}
		again, err := ParseCAAValue(v.String())
		if err != nil {
			t.Fatalf("%q formats to %q, which does not parse: %v", s, v.String(), err)
		}
		if again.String() != v.String() {
			t.Fatalf("%q: %q then %q", s, v.String(), again.String())
		}
	})
}
