package csr

import (
	"fmt"
	"net"
	"reflect"
	"testing"
)

func TestClassifyHosts(t *testing.T) {
	in := []string{
		"a.example", " spaced.example ", "", "  ", "*.example.com",
		"10.0.0.1", "::1", "::ffff:1.2.3.4", " 192.0.2.7 ",
		"u@example.com", "John <j@x.com>",
		"https://x.example/p", "spiffe://td/ns/x", "urn:uuid:1234", "mailto:a@b.c", "foo:bar",
		"/path", "a@b@c", "localhost",
	}
	dns, ips, emails, uris := ClassifyHosts(in)
	wantDNS := []string{"a.example", "spaced.example", "*.example.com", "/path", "a@b@c", "localhost"}
	wantIPs := []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("::1"), net.ParseIP("1.2.3.4"), net.ParseIP("192.0.2.7")}
	wantEmails := []string{"u@example.com", "j@x.com"}
	wantURIs := []string{"https://x.example/p", "spiffe://td/ns/x", "urn:uuid:1234", "mailto:a@b.c", "foo:bar"}
	if !reflect.DeepEqual(dns, wantDNS) {
		t.Errorf("dns = %q, want %q", dns, wantDNS)
	}
	if fmt.Sprint(ips) != fmt.Sprint(wantIPs) {
		t.Errorf("ips = %v, want %v", ips, wantIPs)
	}
	if !reflect.DeepEqual(emails, wantEmails) {
		t.Errorf("emails = %q, want %q", emails, wantEmails)
	}
	var got []string
	for _, u := range uris {
		got = append(got, u.String())
	}
	if !reflect.DeepEqual(got, wantURIs) {
		t.Errorf("uris = %q, want %q", got, wantURIs)
	}
}

func TestClassifyHostsEmpty(t *testing.T) {
	dns, ips, emails, uris := ClassifyHosts([]string{"", " \t"})
	if dns != nil || ips != nil || emails != nil || uris != nil {
		t.Errorf("ClassifyHosts(blank) = %v %v %v %v, want all nil", dns, ips, emails, uris)
	}
}

func TestSplitHostname(t *testing.T) {
	tests := map[string][]string{
		"":                      nil,
		" , ,":                  nil,
		"a":                     {"a"},
		"a, b":                  {"a", "b"},
		" a.example ,,10.0.0.1": {"a.example", "10.0.0.1"},
	}
	for in, want := range tests {
		if got := SplitHostname(in); !reflect.DeepEqual(got, want) {
			t.Errorf("SplitHostname(%q) = %q, want %q", in, got, want)
		}
	}
}
