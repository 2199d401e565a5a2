package validation

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/pkid/pkid/internal/dnstest"
)

// digest is what dns-01 expects for testKeyAu.
func digest() string {
	sum := sha256.Sum256([]byte(testKeyAu))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func dnsReq(name string) Request {
	return Request{Type: DNS01, Identifier: Identifier{Type: "dns", Value: name}, Token: testToken, KeyAuthorization: testKeyAu,
		CAAIdentities: []string{"ca.test"}, AccountURI: "https://ca.test/acme/acct/1"}
}

func TestDNS01(t *testing.T) {
	s := dnstest.Start(t)
	s.SetTXT("_acme-challenge.ok.test", "unrelated", digest())
	s.SetTXT("_acme-challenge.wrong.test", digest()[1:]+"x")
	s.SetCNAME("_acme-challenge.delegated.test", "ok.challenges.test")
	s.SetTXT("ok.challenges.test", digest())
	s.SetCNAME("_acme-challenge.loop.test", "_acme-challenge.loop2.test")
	s.SetCNAME("_acme-challenge.loop2.test", "_acme-challenge.loop.test")
	s.SetA("_acme-challenge.notxt.test", "127.0.0.1")
	s.SetRcode("_acme-challenge.servfail.test", dns.RcodeServerFailure)
	var many []string
	for i := range 100 {
		many = append(many, fmt.Sprintf("not-it-%03d-%s", i, strings.Repeat("x", 40)))
	}
	s.SetTXT("_acme-challenge.many.test", many...)

	tests := []struct {
		name, problem, detail string
	}{
		{"ok.test", "", ""},
		{"delegated.test", "", ""},
		{"wrong.test", ProblemIncorrectResponse, "want " + fmt.Sprintf("%q", digest())},
		{"many.test", ProblemIncorrectResponse, "not-it-004"},
		{"nowhere.test", ProblemUnauthorized, "NXDOMAIN"},
		{"notxt.test", ProblemUnauthorized, "no TXT record"},
		{"servfail.test", ProblemDNS, "SERVFAIL"},
		{"loop.test", ProblemDNS, "CNAME loop"},
	}
	l := NewLocal(LocalOptions{Resolver: s.Addr, Timeout: 2 * time.Second})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := l.Validate(context.Background(), dnsReq(tt.name))
			if tt.problem == "" {
				if !v.OK {
					t.Fatalf("refused: %+v", v.Problem)
				}
				return
			}
			if v.OK || v.Problem.Type != tt.problem || !strings.Contains(v.Problem.Detail, tt.detail) {
				t.Fatalf("problem %+v, want %s containing %q", v.Problem, tt.problem, tt.detail)
			}
			if len(v.Problem.Detail) > 1024 {
				t.Errorf("detail of %d bytes", len(v.Problem.Detail))
			}
		})
	}

	// An ip identifier has no DNS name to hold the record.
	r := dnsReq("ok.test")
	r.Identifier = Identifier{Type: "ip", Value: "127.0.0.1"}
	if v := l.Validate(context.Background(), r); v.OK || v.Problem.Type != ProblemMalformed {
		t.Errorf("ip identifier: %+v", v.Problem)
	}

	// A resolver that does not answer is bounded by the timeout.
	s.SetDelay(2 * time.Second)
	l = NewLocal(LocalOptions{Resolver: s.Addr, Timeout: 200 * time.Millisecond})
	start := time.Now()
	if v := l.Validate(context.Background(), dnsReq("ok.test")); v.OK || v.Problem.Type != ProblemDNS {
		t.Errorf("slow resolver: %+v", v.Problem)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("slow resolver took %v", d)
	}
}

// TestDNS01AliasNoEcho: TXT records reached through a CNAME (anywhere in
// the validation resolver's view, an internal zone included) are not
// quoted back to the ACME client; the challenge name's own are.
func TestDNS01AliasNoEcho(t *testing.T) {
	s := dnstest.Start(t)
	s.SetCNAME("_acme-challenge.alias.test", "secrets.corp.test")
	s.SetTXT("secrets.corp.test", "internal-secret-7f3a")
	s.SetTXT("_acme-challenge.own.test", "wrong-value")
	l := NewLocal(LocalOptions{Name: "here", Resolver: s.Addr, Timeout: 3 * time.Second})
	v := l.Validate(context.Background(), dnsReq("alias.test"))
	if v.OK || v.Problem.Type != ProblemIncorrectResponse || strings.Contains(v.Problem.Detail, "internal-secret") {
		t.Fatalf("aliased: %+v", v.Problem)
	}
	v = l.Validate(context.Background(), dnsReq("own.test"))
	if v.OK || !strings.Contains(v.Problem.Detail, "wrong-value") {
		t.Fatalf("own: %+v", v.Problem)
	}
}
