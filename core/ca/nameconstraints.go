package ca

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// checkNameConstraints enforces the name constraints of every CA above the
// new certificate (issuer and chain) before signing, so the CA never issues
// a certificate that relying parties would reject. The error names the
// violated constraint and the CA that carries it.
func checkNameConstraints(t *x509.Certificate, cas []*x509.Certificate) error {
	for _, ca := range cas {
		if err := checkOne(t, ca); err != nil {
			return errorf(CodePolicyViolation, nil, "name constraint of %q violated: %s", ca.Subject.CommonName, err)
		}
	}
	return nil
}

func checkOne(t *x509.Certificate, ca *x509.Certificate) error {
	for _, d := range t.DNSNames {
		if err := checkDNS(d, ca.PermittedDNSDomains, ca.ExcludedDNSDomains); err != nil {
			return err
		}
	}
	// A CN that looks like a host name is checked as one, as browsers once did.
	if cn := t.Subject.CommonName; cn != "" && len(t.DNSNames) == 0 && strings.Contains(cn, ".") && !strings.ContainsAny(cn, " @") {
		if err := checkDNS(cn, ca.PermittedDNSDomains, ca.ExcludedDNSDomains); err != nil {
			return err
		}
	}
	for _, ip := range t.IPAddresses {
		for _, n := range ca.ExcludedIPRanges {
			if n.Contains(ip) {
				return fmt.Errorf("IP address %s is in excluded range %s", ip, n)
			}
		}
		if len(ca.PermittedIPRanges) > 0 && !anyNet(ca.PermittedIPRanges, ip) {
			return fmt.Errorf("IP address %s is outside the permitted ranges %s", ip, netsString(ca.PermittedIPRanges))
		}
	}
	for _, e := range t.EmailAddresses {
		if err := checkEmail(e, ca.PermittedEmailAddresses, ca.ExcludedEmailAddresses); err != nil {
			return err
		}
	}
	for _, u := range t.URIs {
		if err := checkURI(u, ca.PermittedURIDomains, ca.ExcludedURIDomains); err != nil {
			return err
		}
	}
	return nil
}

// dnsMatches reports whether name is within constraint (RFC 5280, section 4.2.1.10:
// "example.com" covers it and its subdomains; ".example.com" only
// subdomains).
func dnsMatches(name, constraint string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	c := strings.ToLower(constraint)
	if c == "" {
		return true
	}
	if strings.HasPrefix(c, ".") {
		return strings.HasSuffix(name, c)
	}
	return name == c || strings.HasSuffix(name, "."+c)
}

func checkDNS(name string, permitted, excluded []string) error {
	// A wildcard is checked by its base domain.
	base := strings.TrimPrefix(name, "*.")
	for _, c := range excluded {
		if dnsMatches(base, c) || dnsMatches(name, c) {
			return fmt.Errorf("DNS name %q is in excluded subtree %q", name, c)
		}
	}
	if len(permitted) == 0 {
		return nil
	}
	for _, c := range permitted {
		if dnsMatches(base, c) {
			return nil
		}
	}
	return fmt.Errorf("DNS name %q is outside the permitted subtrees %q", name, permitted)
}

func emailMatches(addr, c string) bool {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return false
	}
	domain := strings.ToLower(addr[at+1:])
	c = strings.ToLower(c)
	switch {
	case strings.Contains(c, "@"):
		return strings.EqualFold(addr, c)
	case strings.HasPrefix(c, "."):
		return strings.HasSuffix(domain, c)
	}
	return domain == c
}

func checkEmail(addr string, permitted, excluded []string) error {
	for _, c := range excluded {
		if emailMatches(addr, c) {
			return fmt.Errorf("email address %q is in excluded subtree %q", addr, c)
		}
	}
	if len(permitted) == 0 {
		return nil
	}
	for _, c := range permitted {
		if emailMatches(addr, c) {
			return nil
		}
	}
	return fmt.Errorf("email address %q is outside the permitted subtrees %q", addr, permitted)
}

func checkURI(u *url.URL, permitted, excluded []string) error {
	host := u.Hostname()
	for _, c := range excluded {
		if dnsMatches(host, c) {
			return fmt.Errorf("URI %q is in excluded subtree %q", u, c)
		}
	}
	if len(permitted) == 0 {
		return nil
	}
	for _, c := range permitted {
		if host != "" && dnsMatches(host, c) {
			return nil
		}
	}
	return fmt.Errorf("URI %q is outside the permitted subtrees %q", u, permitted)
}

func anyNet(nets []*net.IPNet, ip net.IP) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func netsString(nets []*net.IPNet) string {
	s := make([]string, len(nets))
	for i, n := range nets {
		s[i] = n.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}
