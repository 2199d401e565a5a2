package csr

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// DNSName checks a DNS SAN and returns the form to write: RFC 1034
// preferred syntax (labels of letters, digits and inner hyphens, at most
// 63 bytes each and 253 in all, no empty label, no trailing dot), with two
// tolerances: underscores (service labels such as _acme-challenge are
// common in private PKIs; lint decides whether a profile accepts them) and
// one leading "*." wildcard label. A name with non-ASCII characters or an
// "xn--" label goes through the UTS #46 lookup profile and comes back as
// its A-label form (bücher.example.com → xn--bcher-kva.example.com), which
// is what the certificate carries and what name policy applies to.
//
// Errors match ErrInvalid and quote the name.
func DNSName(name string) (string, error) {
	body, wildcard := strings.CutPrefix(name, "*.")
	if !utf8.ValidString(body) {
		// idna would encode the replacement character.
		return "", invalidf("DNS name %q is not valid UTF-8", name)
	}
	if needsIDNA(body) {
		a, err := idna.Lookup.ToASCII(body)
		if err != nil {
			return "", invalidf("DNS name %q is not a valid internationalized name: %v", name, err)
		}
		body = a
	}
	if err := checkLDH(body); err != nil {
		return "", invalidf("DNS name %q: %v", name, err)
	}
	if wildcard {
		return "*." + body, nil
	}
	return body, nil
}

// needsIDNA: non-ASCII or an A-label to validate.
func needsIDNA(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	for _, l := range strings.Split(s, ".") {
		if len(l) >= 4 && strings.EqualFold(l[:4], "xn--") {
			return true
		}
	}
	return false
}

// checkLDH checks letters-digits-hyphen syntax (plus underscores).
func checkLDH(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty name")
	case len(s) > 253:
		return fmt.Errorf("longer than 253 characters")
	case strings.HasSuffix(s, "."):
		return fmt.Errorf("a trailing dot is not allowed in a certificate")
	}
	for _, label := range strings.Split(s, ".") {
		switch {
		case label == "":
			return fmt.Errorf("empty label")
		case len(label) > 63:
			return fmt.Errorf("label longer than 63 characters")
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Errorf("label %q starts or ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				if c == '*' {
					return fmt.Errorf("a wildcard is only allowed as the whole first label (*.example.com)")
				}
				return fmt.Errorf("character %q is not allowed (letters, digits, '-', '_' and '.' only)", rune(c))
			}
		}
	}
	return nil
}

// EmailAddress checks an email SAN: a local part of printable ASCII
// without spaces (SmtpUTF8 mailboxes are not supported) and a domain as
// DNSName without wildcard, returned in A-label form. Errors match
// ErrInvalid and quote the address.
func EmailAddress(addr string) (string, error) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return "", invalidf("email address %q has no local part or domain", addr)
	}
	local, domain := addr[:at], addr[at+1:]
	if !printableASCII(local) {
		return "", invalidf("email address %q: the local part must be printable ASCII without spaces", addr)
	}
	d, err := DNSName(domain)
	if err != nil || strings.HasPrefix(d, "*.") {
		return "", invalidf("email address %q: %q is not a valid domain", addr, domain)
	}
	return local + "@" + d, nil
}

// URI checks a URI SAN: printable ASCII without spaces once its host (a
// DNS name, converted to its A-label, or an IP literal) is normalised.
// Errors match ErrInvalid and quote the URI.
func URI(u *url.URL) (*url.URL, error) {
	out := *u
	if h := u.Hostname(); h != "" && net.ParseIP(h) == nil {
		d, err := DNSName(h)
		if err != nil {
			return nil, invalidf("URI %q: host %q is not a valid DNS name", u.String(), h)
		}
		out.Host = d
		if p := u.Port(); p != "" {
			out.Host = net.JoinHostPort(d, p)
		}
	}
	if s := out.String(); !printableASCII(s) {
		return nil, invalidf("URI %q must be printable ASCII without spaces", u.String())
	}
	return &out, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

// CheckSANs checks and normalises DNS, email and URI SANs with DNSName,
// EmailAddress and URI, returning new slices. The first bad name is the
// error (matching ErrInvalid).
func CheckSANs(dns, emails []string, uris []*url.URL) ([]string, []string, []*url.URL, error) {
	var (
		outDNS, outEmails []string
		outURIs           []*url.URL
	)
	for _, d := range dns {
		n, err := DNSName(d)
		if err != nil {
			return nil, nil, nil, err
		}
		outDNS = append(outDNS, n)
	}
	for _, e := range emails {
		n, err := EmailAddress(e)
		if err != nil {
			return nil, nil, nil, err
		}
		outEmails = append(outEmails, n)
	}
	for _, u := range uris {
		n, err := URI(u)
		if err != nil {
			return nil, nil, nil, err
		}
		outURIs = append(outURIs, n)
	}
	return outDNS, outEmails, outURIs, nil
}
