package acme

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"github.com/miekg/dns"

	"github.com/pkid/pkid/core/acme/validation"
	"github.com/pkid/pkid/core/config"
)

// DefaultPerspectives builds a profile's validators from its acme
// block's validation settings: this process as the primary perspective
// (through the configured resolver and ports) and the remote validators.
func DefaultPerspectives(pol *config.ACMEPolicy) (*Perspectives, error) {
	v := pol.Validation
	if v.Resolver == "" {
		// The system's resolver, as the rest of the host uses it.
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil || len(cc.Servers) == 0 {
			return nil, fmt.Errorf("no validation resolver configured and none in /etc/resolv.conf: set validation { resolver = \"IP:PORT\" }")
		}
		v.Resolver = net.JoinHostPort(cc.Servers[0], cc.Port)
	}
	p := &Perspectives{Quorum: v.Quorum, Primary: validation.NewLocal(validation.LocalOptions{
		Name: "primary", Resolver: v.Resolver, HTTPPort: v.HTTPPort, TLSPort: v.TLSPort, Timeout: v.Timeout,
	})}
	for _, per := range v.Perspectives {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if per.CA != "" {
			pemData, err := os.ReadFile(per.CA)
			if err != nil {
				return nil, fmt.Errorf("perspective %q: %w", per.Name, err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pemData) {
				return nil, fmt.Errorf("perspective %q: no certificate in %s", per.Name, per.CA)
			}
		}
		if per.Cert != "" {
			kp, err := tls.LoadX509KeyPair(per.Cert, per.Key)
			if err != nil {
				return nil, fmt.Errorf("perspective %q: client certificate: %w", per.Name, err)
			}
			cfg.Certificates = []tls.Certificate{kp}
		}
		p.Remotes = append(p.Remotes, validation.NewRemote(per.Name, per.URL, cfg))
	}
	return p, nil
}

// corroborate asks the perspectives (a variable for tests of the state
// machine).
var corroborate = validation.Corroborate
