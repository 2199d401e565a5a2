package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/core/server"
)

// Endpoints names every API endpoint the daemon can serve, for flags that
// select some (cfssl serve's -disable): the CLI reaches the handlers only
// through the daemon.
func Endpoints() []string { return slices.Clone(server.Endpoints) }

// ParseTLSVersion reads "1.0" to "1.3". Errors: any other string.
func ParseTLSVersion(s string) (uint16, error) {
	switch s {
	case "1.0":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("TLS version must be 1.0, 1.1, 1.2 or 1.3, not %q", s)
}

// config loads the serving certificate and, for mutual TLS, the client CA.
func (t TLS) config() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("serve: TLS: %w", err)
	}
	minVersion := t.MinVersion
	if minVersion == 0 {
		minVersion = tls.VersionTLS12
	}
	// Client certificates are requested, not required: renew checks the one it gets itself.
	c := &tls.Config{MinVersion: minVersion, Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
	if t.ClientCA != "" {
		pemBytes, err := os.ReadFile(t.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("serve: -mutual-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("serve: -mutual-tls-ca %s: no PEM certificate", t.ClientCA)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

func authKeys(pk config.PkidBlock) map[string]profile.AuthKey {
	keys := map[string]profile.AuthKey{}
	for name, k := range pk.AuthKeys {
		keys[name] = profile.AuthKey{Type: "standard", Key: k.Key}
	}
	return keys
}

// checkAuthKeyNames refuses profiles whose auth_key names no declared key:
// such a profile would silently accept nothing.
func checkAuthKeyNames(set *authority.Set, keys map[string]profile.AuthKey) error {
	for _, label := range set.Labels() {
		cfg := set.CAs[label].Profiles()
		all := map[string]*profile.Profile{"default": cfg.Default}
		for n, p := range cfg.Profiles {
			all[n] = p
		}
		for n, p := range all {
			if p == nil {
				continue
			}
			for _, k := range []string{p.AuthKey, p.PrevAuthKey} {
				if _, ok := keys[k]; k != "" && !ok {
					if _, ok := cfg.AuthKeys[k]; !ok {
						return fmt.Errorf("serve: ca %q profile %q: auth_key %q is not declared (add auth_key %q { key = ... } to the pkid block)", label, n, k, k)
					}
				}
			}
		}
	}
	return nil
}

// pkidAttrRange returns the range of the pkid block's attribute name in the
// configuration's native-syntax files, or nil.
func pkidAttrRange(cfg *config.Config, name string) *hcl.Range {
	for _, f := range cfg.Files {
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		for _, b := range body.Blocks {
			if a, ok := b.Body.Attributes[name]; ok && b.Type == "pkid" {
				return a.SrcRange.Ptr()
			}
		}
	}
	return nil
}

// healthChecks are health's parts beyond the certstore probe: each plugin
// process (running, or restarting with its last error), each certstore's
// last write, and each CA key (a cached test signature through its
// keystore, checked with the CA certificate).
func healthChecks(l *catalog.Loaded, host *pluginhost.Host, set *authority.Set) map[string]func(context.Context) error {
	checks := map[string]func(context.Context) error{}
	if host != nil {
		for _, p := range host.Processes() {
			checks[p.Name()] = p.Check
		}
	}
	for name, cs := range l.CertStores {
		// Reads work on a full disk: the store's last write tells.
		if c, ok := cs.(interface{ Check(context.Context) error }); ok {
			checks["certstore."+name] = c.Check
		}
	}
	for _, c := range l.Config.CAs {
		if iss, ok := set.CAs[c.Name]; ok {
			checks["ca."+c.Name] = server.CachedCheck(server.HealthCacheTTL, server.KeyProbe(l.KeyStores[c.KeyStore], c.Key, iss.Certificate()))
		}
	}
	return checks
}
