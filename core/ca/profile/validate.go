package profile

import (
	"slices"
	"strings"
)

// inheritURLs copies issuer_urls, ocsp_url and crl_url from the default
// profile into p where p leaves them unset (an explicit empty
// issuer_urls array is kept empty, as in CFSSL).
func inheritURLs(p, def *Profile) {
	if p.IssuerURLs == nil && def.IssuerURLs != nil {
		p.IssuerURLs = slices.Clone(def.IssuerURLs)
	}
	if p.OCSPURL == "" {
		p.OCSPURL = def.OCSPURL
	}
	if p.CRLURL == "" {
		p.CRLURL = def.CRLURL
	}
}

// validate applies CFSSL's profile checks to one decoded profile, recording one error per
// problem:
//   - remote and auth_remote.remote must name an entry of remotes, and
//     auth_key, prev_auth_key and auth_remote.auth_key one of auth_keys;
//   - remote and auth_remote exclude each other; auth_remote needs both
//     remote and auth_key;
//   - a local profile needs an expiry ("empty expiry string"); a named
//     local profile needs at least one recognised usage.
//
// Local settings on a forwarding profile are ignored with a warning.
func (l *loader) validate(cfg *Config, pd *pending, isDefault bool) {
	p, where := pd.p, pd.where
	if p.Remote != "" {
		l.checkRemote(cfg, where, "remote", p.Remote)
	}
	if ar := p.AuthRemote; ar != nil {
		if p.Remote != "" {
			l.fail(where, "auth_remote", "remote and auth_remote exclude each other: use one")
		}
		if ar.Remote == "" {
			l.fail(where, "auth_remote", `needs "remote"`)
		} else {
			l.checkRemote(cfg, where, "auth_remote.remote", ar.Remote)
		}
		if ar.AuthKey == "" {
			l.fail(where, "auth_remote", `needs "auth_key"`)
		} else {
			l.checkAuthKey(cfg, where, "auth_remote.auth_key", ar.AuthKey)
		}
	}
	if p.AuthKey != "" {
		l.checkAuthKey(cfg, where, "auth_key", p.AuthKey)
	}
	if p.PrevAuthKey != "" {
		l.checkAuthKey(cfg, where, "prev_auth_key", p.PrevAuthKey)
		if p.AuthKey == "" {
			l.warn(where, "prev_auth_key", `has no effect without "auth_key"`)
		}
	}

	if p.Remote != "" || p.AuthRemote != nil {
		var local []string
		for _, k := range pd.fs.order {
			if !forwardingKeys[k] {
				local = append(local, k)
			}
		}
		if len(local) > 0 {
			l.warn(where, "", "forwards to a remote: local settings ignored (%s)", strings.Join(local, ", "))
		}
		return
	}

	if !pd.expirySet && p.Expiry == 0 {
		l.fail(where, "expiry", "empty expiry string")
	}
	if isDefault {
		return
	}
	if msg := usagesProblem(p); msg != "" {
		l.fail(where, "usages", "%s", msg)
	}
}

func (l *loader) checkRemote(cfg *Config, where, key, name string) {
	if _, ok := cfg.Remotes[name]; !ok && !l.remoteNames[name] {
		l.fail(where, key, "remote %q is not defined in \"remotes\"", name)
	}
}

func (l *loader) checkAuthKey(cfg *Config, where, key, name string) {
	if _, ok := cfg.AuthKeys[name]; !ok && !l.authKeyNames[name] {
		l.fail(where, key, "auth key %q is not defined in \"auth_keys\"", name)
	}
}
