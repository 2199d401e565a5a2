package csr

import (
	"net"
	"net/mail"
	"net/url"
	"strings"
)

// ClassifyHosts sorts csr.json/sign "hosts" into SAN kinds, in input order
// within each kind: an IP literal is an IP SAN; an item containing '@'
// that parses as a mail address (display name allowed) is an email SAN
// (the bare address); an absolute URI (a scheme plus a host or an opaque
// part, e.g. "spiffe://td/x", "urn:uuid:…") is a URI SAN; anything else is
// a DNS name. Items are trimmed and empty items dropped
// (docs/differences-from-cfssl.md, "Hostname items are trimmed").
func ClassifyHosts(hosts []string) (dns []string, ips []net.IP, emails []string, uris []*url.URL) {
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
			continue
		}
		if strings.Contains(h, "@") {
			if addr, err := mail.ParseAddress(h); err == nil {
				emails = append(emails, addr.Address)
				continue
			}
		}
		if u, err := url.Parse(h); err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "") {
			uris = append(uris, u)
			continue
		}
		dns = append(dns, h)
	}
	return dns, ips, emails, uris
}

// SplitHostname splits a comma-separated "hostname" list, trimming items
// and dropping empty ones (docs/differences-from-cfssl.md, "Hostname
// items are trimmed"). It returns nil when nothing remains.
func SplitHostname(s string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}
