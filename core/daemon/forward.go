package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/client"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/forward"
)

// forwardOptions builds the forwarding of the configuration's profiles
// whose remote names a remote block, merged with extra (cfssl serve's
// JSON forwarding profiles, which apply to any label). nil: nothing
// forwards.
func forwardOptions(cfg *config.Config, set *authority.Set, keys map[string]profile.AuthKey, extra *forward.Options) (*forward.Options, error) {
	clients := map[string]*client.Client{}
	routes := map[string]map[string]*forward.Remote{} // label -> profile name -> remote
	for _, label := range set.Labels() {
		pc := set.CAs[label].Profiles()
		all := map[string]*profile.Profile{"default": pc.Default}
		for n, p := range pc.Profiles {
			all[n] = p
		}
		for name, p := range all {
			if p == nil || p.Remote == "" {
				continue
			}
			rb := cfg.Remote(p.Remote)
			if rb == nil { // config.Load reports it with its range
				return nil, fmt.Errorf("serve: ca %q profile %q: no remote named %q", label, name, p.Remote)
			}
			c, ok := clients[rb.Name]
			if !ok {
				var err error
				if c, err = remoteClient(rb); err != nil {
					return nil, fmt.Errorf("serve: remote %q: %w", rb.Name, err)
				}
				clients[rb.Name] = c
			}
			r := &forward.Remote{Name: rb.Name, Client: c, ReplayProtection: p.AuthReplayProtection}
			if p.RemoteAuthKey != "" {
				k, err := profile.ResolveAuthKey(p.RemoteAuthKey)
				if err != nil {
					return nil, fmt.Errorf("serve: ca %q profile %q: remote_auth_key: %w", label, name, err)
				}
				r.AuthKey = k
			}
			for _, kn := range []string{p.AuthKey, p.PrevAuthKey} {
				if k, ok := keys[kn]; kn != "" && ok && len(k.Key) > 0 {
					r.LocalKeys = append(r.LocalKeys, k.Key)
				}
			}
			if routes[label] == nil {
				routes[label] = map[string]*forward.Remote{}
			}
			routes[label][name] = r
		}
	}
	if len(routes) == 0 {
		return extra, nil
	}
	fo := forward.Options{Local: true}
	if extra != nil {
		fo = *extra
	}
	jsonProfiles := fo.Profiles
	fo.Profiles = nil
	fo.Lookup = func(label, name string) *forward.Remote {
		if name == "" {
			name = "default"
		}
		if r := jsonProfiles[name]; r != nil {
			return r
		}
		if label == "" {
			label = set.Default
		}
		return routes[label][name]
	}
	return &fo, nil
}

// remoteClient is the API client of a remote block: its URLs in failover
// order, its CA for the server certificate and its client certificate.
func remoteClient(rb *config.Remote) (*client.Client, error) {
	var tc *tls.Config
	if rb.TLS.CA != "" || rb.TLS.Cert != "" {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
		if rb.TLS.CA != "" {
			pem, err := os.ReadFile(rb.TLS.CA)
			if err != nil {
				return nil, fmt.Errorf("tls ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, errors.New("tls ca: no PEM certificate in " + rb.TLS.CA)
			}
		}
		if rb.TLS.Cert != "" {
			cert, err := tls.LoadX509KeyPair(rb.TLS.Cert, rb.TLS.Key)
			if err != nil {
				return nil, fmt.Errorf("tls cert/key: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
	}
	return client.New(strings.Join(rb.URLs, ","), tc)
}
