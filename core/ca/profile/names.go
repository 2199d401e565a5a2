package profile

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// signatureAlgorithms are the algorithms a profile may force, by the
// names x509.SignatureAlgorithm.String() gives them.
var signatureAlgorithms = []x509.SignatureAlgorithm{
	x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
	x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS,
	x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512,
	x509.PureEd25519,
}

// parseSignatureAlgorithm looks up a signature algorithm by its
// x509.SignatureAlgorithm.String() name, case-insensitively.
func parseSignatureAlgorithm(s string) (x509.SignatureAlgorithm, error) {
	names := make([]string, len(signatureAlgorithms))
	for i, a := range signatureAlgorithms {
		if strings.EqualFold(s, a.String()) {
			return a, nil
		}
		names[i] = a.String()
	}
	msg := fmt.Sprintf("%q is not a signature algorithm", s)
	if hint := suggest(strings.ToUpper(s), names); hint != "" {
		msg += fmt.Sprintf("; did you mean %q?", hint)
	}
	return 0, fmt.Errorf("%s (one of %s)", msg, strings.Join(names, ", "))
}

// checkURL accepts an absolute URL with a scheme; http(s) URLs need a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || ((u.Scheme == "http" || u.Scheme == "https") && u.Host == "") {
		return fmt.Errorf("%q is not an absolute URL (e.g. http://pki.example.com/ca.crt)", s)
	}
	return nil
}

// parseCIDR parses an IP range in CIDR notation.
func parseCIDR(s string) (*net.IPNet, error) {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IP range in CIDR notation (e.g. 10.0.0.0/8, 192.0.2.7/32, 2001:db8::/32)", s)
	}
	return n, nil
}

// checkHostname accepts a DNS name: labels of letters, digits, '-' and
// '_', with an optional leading dot when leadingDot is set (name
// constraints' "subdomains only" form) and, when wildcard is set, a
// leading "*." label (a name policy pattern).
func checkHostname(s string, leadingDot, wildcard bool) error {
	name := s
	if wildcard {
		name = strings.TrimPrefix(name, "*.")
	}
	if leadingDot {
		name = strings.TrimPrefix(name, ".")
	}
	bad := fmt.Errorf("%q is not a DNS name", s)
	if name == "" || len(name) > 253 {
		return bad
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 {
			return bad
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				if r == '*' {
					return fmt.Errorf("%q: a wildcard is only allowed as the whole first label (*.example.com)", s)
				}
				return bad
			}
		}
	}
	return nil
}

// checkEmailPattern accepts "user@example.com", "example.com" or
// ".example.com" (RFC 5280 rfc822Name constraint forms).
func checkEmailPattern(s string) error {
	host := s
	if local, domain, ok := strings.Cut(s, "@"); ok {
		if local == "" || strings.ContainsAny(local, " \t@") {
			return fmt.Errorf("%q is not an email address or domain", s)
		}
		if err := checkHostname(domain, false, false); err != nil {
			return fmt.Errorf("%q is not an email address or domain", s)
		}
		return nil
	}
	if err := checkHostname(host, true, false); err != nil {
		return fmt.Errorf("%q is not an email address or domain", s)
	}
	return nil
}

// checkURIHost accepts a URI host constraint: "example.com" or
// ".example.com" (a host, not a URL).
func checkURIHost(s string) error {
	if strings.Contains(s, "/") || strings.Contains(s, ":") {
		return fmt.Errorf("%q: give the URI's host (example.com or .example.com), not a URL", s)
	}
	return checkHostname(s, true, false)
}
