package csr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Hosts that become SANs through Generate: hostile or malformed names are
// refused with an error quoting them; IDNs are written as A-labels.
func TestGenerateHostSyntax(t *testing.T) {
	key := mustKey(t, "ecdsa", 256)
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		host string
		want string // the SAN written, or "" when refused
	}{
		{"api.svc.example.com", "DNS api.svc.example.com"},
		{"*.svc.example.com", "DNS *.svc.example.com"},
		{"_acme-challenge.example.com", "DNS _acme-challenge.example.com"}, // underscores tolerated
		{"localhost", "DNS localhost"},
		{"bücher.example.com", "DNS xn--bcher-kva.example.com"},
		{"*.bücher.example.com", "DNS *.xn--bcher-kva.example.com"},
		{"xn--bcher-kva.example.com", "DNS xn--bcher-kva.example.com"},
		{"ops@bücher.example.com", "email ops@xn--bcher-kva.example.com"},
		{"spiffe://bücher.example.com/x", "URI spiffe://xn--bcher-kva.example.com/x"},
		{"a\r\nb.svc.example.com", ""},
		{"a b.svc.example.com", ""},
		{"a\tb.example.com", ""},
		{"a\x00b.example.com", ""},
		{"a..example.com", ""},
		{"example.com.", ""},
		{"-a.example.com", ""},
		{"a-.example.com", ""},
		{"a*.example.com", ""},
		{"*.*.example.com", ""},
		{"www.*.example.com", ""},
		{"ex%41mple.com", ""},
		{"/path", ""},
		{long + ".example.com", ""},
		{strings.Repeat("a.", 127) + "com", ""},
		{"a\u200db.example.com", ""},   // ZWJ: fails UTS #46 conversion
		{"xn--a.example.com", ""},      // a bad A-label
		{"\"a\r\nb\"@example.com", ""}, // control characters in an email local part
		{"ops@a b.example.com", ""},
	} {
		t.Run(fmt.Sprintf("%q", tc.host), func(t *testing.T) {
			p, err := Generate(&Request{CN: "x", Hosts: []string{tc.host}, KeyRequest: &KeyRequest{"ecdsa", 256}}, key)
			if tc.want == "" {
				if err == nil {
					r, _ := ParseCSR(p)
					t.Fatalf("accepted: DNS %q email %q URI %v", r.DNSNames, r.EmailAddresses, r.URIs)
				}
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.host)) {
					t.Fatalf("err = %v; want ErrInvalid quoting %q", err, tc.host)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseCSR(p)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range r.DNSNames {
				got = append(got, "DNS "+d)
			}
			for _, e := range r.EmailAddresses {
				got = append(got, "email "+e)
			}
			for _, u := range r.URIs {
				got = append(got, "URI "+u.String())
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("SANs = %q, want [%q]", got, tc.want)
			}
		})
	}
}

// DNSName either refuses a name with one ErrInvalid line or returns an
// ASCII name of preferred syntax that it accepts unchanged.
func FuzzDNSName(f *testing.F) {
	for _, s := range []string{"www.example.com", "*.bücher.example.com", "a\r\nb.example.com", "xn--a.example.com", "_srv.EXAMPLE.com", "a\u200db.com", "ｅｘａｍｐｌｅ.com", "a。b.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		out, err := DNSName(name)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error not one ErrInvalid line: %q", err)
			}
			return
		}
		body := strings.TrimPrefix(out, "*.")
		if len(body) > 253 || strings.Trim(body, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			t.Fatalf("DNSName(%q) = %q: not preferred syntax", name, out)
		}
		if again, err := DNSName(out); err != nil || again != out {
			t.Fatalf("DNSName(%q) = %q, but DNSName(%q) = %q, %v", name, out, out, again, err)
		}
	})
}
