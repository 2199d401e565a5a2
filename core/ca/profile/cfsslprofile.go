package profile

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/duration"
)

// profileKeys are the keys of a CFSSL signing profile, spelled as
// CFSSL's JSON tags (the last three have no snake_case form).
var profileKeys = []string{
	"usages", "expiry", "backdate", "not_before", "not_after",
	"ca_constraint", "issuer_urls", "ocsp_url", "crl_url", "ocsp_no_check",
	"auth_key", "prev_auth_key", "remote", "auth_remote", "copy_extensions",
	"name_whitelist", "ct_log_servers", "allowed_extensions",
	"lint_error_level", "ignored_lints", "ignored_lint_sources",
	"Policies", "CSRWhitelist", "ClientProvidesSerialNumbers",
	"cert_store",
}

// forwardingKeys are the profile keys that still matter when a profile
// forwards to a remote; every other key is a local setting.
var forwardingKeys = map[string]bool{
	"remote": true, "auth_remote": true, "auth_key": true,
	"prev_auth_key": true, "cert_store": true,
}

var (
	caConstraintKeys = []string{"is_ca", "max_path_len", "max_path_len_zero"}
	authRemoteKeys   = []string{"remote", "auth_key"}
	policyKeys       = []string{"ID", "Qualifiers"}
	qualifierKeys    = []string{"Type", "Value"}
	csrWhitelistKeys = []string{
		"Subject", "PublicKeyAlgorithm", "PublicKey", "SignatureAlgorithm",
		"DNSNames", "IPAddresses", "EmailAddresses", "URIs",
	}
)

// pending is a decoded profile awaiting inheritance and validation.
type pending struct {
	p     *Profile
	where string
	fs    fieldSet
	// expirySet: expiry was given as a non-empty string.
	expirySet bool
}

// profile decodes one CFSSL profile object. It returns nil, after
// recording an error, when raw is not an object.
func (l *loader) profile(name, where string, raw json.RawMessage) *pending {
	fs, ok := l.object(where, "", raw, profileKeys)
	if !ok {
		return nil
	}
	p := &Profile{Name: name}
	pd := &pending{p: p, where: where, fs: fs}

	if names, ok := l.strs(where, fs, "usages"); ok {
		p.Usages = names
		var unknown []string
		p.KeyUsage, p.ExtKeyUsage, p.UnknownExtKeyUsage, unknown = ResolveUsages(names)
		for _, u := range unknown {
			if hint := suggestUsage(u); hint != "" {
				l.warn(where, "usages", "unknown usage %q ignored (did you mean %q?)", u, hint)
			} else {
				l.warn(where, "usages", "unknown usage %q ignored", u)
			}
		}
	}
	if s, ok := l.str(where, fs, "expiry"); ok && s != "" {
		d, err := parseExpiry(s)
		if err != nil {
			l.fail(where, "expiry", "%v", err)
		}
		p.Expiry, pd.expirySet = d, true
	}
	if s, ok := l.str(where, fs, "backdate"); ok && s != "" {
		d, err := duration.Parse(s)
		if err != nil {
			l.fail(where, "backdate", "%v", err)
		}
		p.Backdate, p.BackdateSet = d, true
	}
	p.NotBefore = l.timestamp(where, fs, "not_before")
	p.NotAfter = l.timestamp(where, fs, "not_after")
	if err := checkWindow(p.NotBefore, p.NotAfter); err != nil {
		l.fail(where, "not_after", "%v", err)
	}
	if raw, ok := fs.vals["ca_constraint"]; ok {
		p.CA = l.caConstraint(where, raw)
	}
	if urls, ok := l.strs(where, fs, "issuer_urls"); ok {
		p.IssuerURLs = urls
	}
	p.OCSPURL, _ = l.str(where, fs, "ocsp_url")
	p.CRLURL, _ = l.str(where, fs, "crl_url")
	p.OCSPNoCheck, _ = l.boolean(where, fs, "ocsp_no_check")
	p.AuthKey, _ = l.str(where, fs, "auth_key")
	p.PrevAuthKey, _ = l.str(where, fs, "prev_auth_key")
	p.Remote, _ = l.str(where, fs, "remote")
	if raw, ok := fs.vals["auth_remote"]; ok {
		p.AuthRemote = l.authRemote(where, raw)
	}
	p.CopyExtensions, _ = l.boolean(where, fs, "copy_extensions")
	if s, ok := l.str(where, fs, "name_whitelist"); ok && s != "" {
		re, warning, err := compileWhitelist(s)
		if err != nil {
			l.fail(where, "name_whitelist", "%v", err)
		} else {
			p.NameWhitelist = re
			if warning != "" {
				l.warn(where, "name_whitelist", "%s", warning)
			}
		}
	}
	if logs, ok := l.strs(where, fs, "ct_log_servers"); ok && len(logs) > 0 {
		p.CTLogServers = logs
		p.CT = l.ctLogServers(where, logs)
	}
	if oids, ok := l.strs(where, fs, "allowed_extensions"); ok {
		for _, s := range oids {
			oid, err := parseOID(s)
			if err != nil {
				l.fail(where, "allowed_extensions", "%v", err)
				continue
			}
			p.AllowedExtensions = append(p.AllowedExtensions, oid)
		}
	}
	p.Lint = l.lint(where, fs)
	if raw, ok := fs.vals["Policies"]; ok {
		p.Policies = l.policies(where, raw)
	}
	if raw, ok := fs.vals["CSRWhitelist"]; ok {
		p.CSRWhitelist = l.csrWhitelist(where, raw)
	}
	p.ClientProvidesSerialNumbers, _ = l.boolean(where, fs, "ClientProvidesSerialNumbers")
	if fs.has("cert_store") {
		l.warn(where, "cert_store", "ignored: pkid records certificates in the CA's certstore")
	}
	return pd
}

// ctLogServers is CFSSL's CT rule for a JSON configuration: the
// precertificate goes to every log, and issuance fails unless every one
// returns an SCT (N of N). The logs' keys are unknown, so their SCTs are
// embedded unverified, as CFSSL does (docs/ct.md).
func (l *loader) ctLogServers(where string, logs []string) *config.CTPolicy {
	if len(logs) > config.MaxCTLogs {
		l.fail(where, "ct_log_servers", "%d logs; at most %d are submitted to", len(logs), config.MaxCTLogs)
		return nil
	}
	seen := map[string]bool{}
	for _, s := range logs {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			l.fail(where, "ct_log_servers", "%q is not an absolute http(s) log URL", s)
			return nil
		}
		k := strings.TrimRight(s, "/")
		if seen[k] {
			l.fail(where, "ct_log_servers", "%q is listed twice", s)
			return nil
		}
		seen[k] = true
	}
	l.warn(where, "ct_log_servers", "every log must return an SCT, as in CFSSL; without the logs' keys their SCTs are embedded unverified (a pkid ct block can verify them and set a policy)")
	return &config.CTPolicy{LogServers: logs, RequiredSCTs: len(logs), RequiredOperators: 1,
		Timeout: config.DefaultCTTimeout, Retries: config.DefaultCTRetries}
}

// timestamp decodes an RFC 3339 time; "" is unset.
func (l *loader) timestamp(where string, fs fieldSet, key string) time.Time {
	s, ok := l.str(where, fs, key)
	if !ok || s == "" {
		return time.Time{}
	}
	t, err := parseTimestamp(s)
	if err != nil {
		l.fail(where, key, "%v", err)
	}
	return t
}

// caConstraint decodes ca_constraint. Path length settings without is_ca
// are ignored with a warning; a negative max_path_len means no limit.
func (l *loader) caConstraint(where string, raw json.RawMessage) CAConstraint {
	fs, ok := l.object(where, "ca_constraint", raw, caConstraintKeys)
	if !ok {
		return CAConstraint{}
	}
	var c CAConstraint
	c.IsCA, _ = l.boolean(where, fs, "is_ca")
	c.MaxPathLen, _ = l.integer(where, fs, "max_path_len")
	c.MaxPathLenZero, _ = l.boolean(where, fs, "max_path_len_zero")
	c, ok = normalizeCA(c)
	if !ok {
		l.warn(where, "ca_constraint", "max_path_len and max_path_len_zero are ignored without is_ca")
	}
	return c
}

// authRemote decodes auth_remote; an object with neither key set is nil.
func (l *loader) authRemote(where string, raw json.RawMessage) *AuthRemote {
	fs, ok := l.object(where, "auth_remote", raw, authRemoteKeys)
	if !ok {
		return nil
	}
	var ar AuthRemote
	ar.Remote, _ = l.str(where, fs, "remote")
	ar.AuthKey, _ = l.str(where, fs, "auth_key")
	if ar.Remote == "" && ar.AuthKey == "" {
		return nil
	}
	return &ar
}

// policies decodes the Policies array.
func (l *loader) policies(where string, raw json.RawMessage) []Policy {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		l.fail(where, "Policies", "must be an array of policy objects")
		return nil
	}
	var out []Policy
	for _, item := range items {
		fs, ok := l.object(where, "Policies", item, policyKeys)
		if !ok {
			continue
		}
		id, _ := l.str(where, fs, "ID")
		oid, err := parseOID(id)
		if err != nil {
			l.fail(where, "Policies", "ID: %v", err)
			continue
		}
		pol := Policy{ID: oid}
		if qraw, ok := fs.vals["Qualifiers"]; ok {
			var qs []json.RawMessage
			if err := json.Unmarshal(qraw, &qs); err != nil {
				l.fail(where, "Policies", "Qualifiers must be an array of objects")
				continue
			}
			for _, q := range qs {
				qfs, ok := l.object(where, "Policies.Qualifiers", q, qualifierKeys)
				if !ok {
					continue
				}
				typ, _ := l.str(where, qfs, "Type")
				val, _ := l.str(where, qfs, "Value")
				switch {
				case strings.EqualFold(typ, QualifierCPS):
					typ = QualifierCPS
				case strings.EqualFold(typ, QualifierUserNotice):
					typ = QualifierUserNotice
				default:
					l.fail(where, "Policies", "qualifier Type %q is not id-qt-cps or id-qt-unotice", typ)
					continue
				}
				pol.Qualifiers = append(pol.Qualifiers, PolicyQualifier{Type: typ, Value: val})
			}
		}
		out = append(out, pol)
	}
	return out
}

// csrWhitelist decodes CSRWhitelist.
func (l *loader) csrWhitelist(where string, raw json.RawMessage) *CSRWhitelist {
	fs, ok := l.object(where, "CSRWhitelist", raw, csrWhitelistKeys)
	if !ok {
		return nil
	}
	var w CSRWhitelist
	w.Subject, _ = l.boolean(where, fs, "Subject")
	w.PublicKeyAlgorithm, _ = l.boolean(where, fs, "PublicKeyAlgorithm")
	w.PublicKey, _ = l.boolean(where, fs, "PublicKey")
	w.SignatureAlgorithm, _ = l.boolean(where, fs, "SignatureAlgorithm")
	w.DNSNames, _ = l.boolean(where, fs, "DNSNames")
	w.IPAddresses, _ = l.boolean(where, fs, "IPAddresses")
	w.EmailAddresses, _ = l.boolean(where, fs, "EmailAddresses")
	w.URIs, _ = l.boolean(where, fs, "URIs")
	return &w
}
