// Package profile holds issuance profiles: what a certificate signed under
// a profile may contain (usages, validity, CA constraint, URLs, name
// policy, lint settings). Profiles come from native HCL `profile` blocks or
// from a CFSSL JSON signing configuration, with the same semantics.
package profile

import (
	"crypto/x509"
	"encoding/asn1"
	"net"
	"regexp"
	"time"

	"github.com/pkid/pkid/core/config"
)

// DefaultBackdate is CFSSL's NotBefore offset.
const DefaultBackdate = 5 * time.Minute

// Profile is one issuance profile, resolved and validated.
type Profile struct {
	Name string
	// Usages are the CFSSL usage names as configured (for `info`).
	Usages      []string
	KeyUsage    x509.KeyUsage
	ExtKeyUsage []x509.ExtKeyUsage
	// UnknownExtKeyUsage holds extended usages given as dotted OIDs.
	UnknownExtKeyUsage []asn1.ObjectIdentifier

	Expiry   time.Duration
	Backdate time.Duration // 0 means DefaultBackdate unless BackdateSet
	// BackdateSet distinguishes an explicit zero backdate from unset.
	BackdateSet bool
	// NotBefore/NotAfter, when non-zero, fix the validity.
	NotBefore, NotAfter time.Time

	CA CAConstraint

	IssuerURLs  []string
	OCSPURL     string
	CRLURL      string
	OCSPNoCheck bool

	CopyExtensions    bool
	AllowedExtensions []asn1.ObjectIdentifier
	// NameWhitelist is CFSSL's name_whitelist: CN and every DNS/email/URI
	// SAN must contain a match.
	NameWhitelist *regexp.Regexp
	Policies      []Policy
	// CSRWhitelist, when set, copies only the listed CSR fields.
	CSRWhitelist *CSRWhitelist

	ClientProvidesSerialNumbers bool

	// CTLogServers are CFSSL's ct_log_servers (or a ct block's
	// log_servers), as configured; CT holds the policy they are submitted
	// under.
	CTLogServers []string
	// CT is the profile's Certificate Transparency policy (its ct block);
	// nil: certificates are issued without SCTs. docs/ct.md.
	CT *config.CTPolicy
	// ACME is the profile's acme block (docs/acme.md); nil: not served
	// over ACME.
	ACME *config.ACMEPolicy

	// NameConstraints are written into CA certificates issued under this
	// profile (and then enforced when signing beneath them).
	NameConstraints *NameConstraints
	// Names is the allow/deny policy for the names a certificate may carry.
	Names *NamePolicy

	Lint Lint

	// Forwarding and authentication (used by the daemon).
	AuthKey     string
	PrevAuthKey string
	// AuthReplayProtection: tokens for this profile must use pkid's
	// replay-resistant format (pkid_auth v2); CFSSL's are refused.
	AuthReplayProtection bool
	Remote               string
	// RemoteAuthKey is where the key for authsign on the remote is
	// ("env:VAR" or "file:PATH", hex): pkid HCL's auth_remote.
	RemoteAuthKey string
	AuthRemote    *AuthRemote

	// SignatureAlgorithm overrides the default chosen from the CA key
	// (e.g. x509.SHA256WithRSAPSS). Zero: by key.
	SignatureAlgorithm x509.SignatureAlgorithm
}

// NameConstraints is the X.509 name constraints extension (RFC 5280,
// section 4.2.1.10) of a CA certificate.
type NameConstraints struct {
	Critical                      bool
	PermittedDNS, ExcludedDNS     []string
	PermittedIP, ExcludedIP       []*net.IPNet
	PermittedEmail, ExcludedEmail []string
	PermittedURI, ExcludedURI     []string
}

// NamePolicy allows and denies names in issued certificates. DNS patterns
// are exact names or "*.example.com" (any single label); a deny match
// wins; when an allow list for a name type is non-empty, every name of
// that type must match it, and once any allow list is set, names of a
// type without one are denied. The subject CN is checked as a name of its
// type (IP, email, URI, else DNS) in end-entity certificates.
type NamePolicy struct {
	AllowDNS, DenyDNS     []string
	AllowIP, DenyIP       []*net.IPNet
	AllowEmail, DenyEmail []string // "user@example.com", "example.com" or ".example.com"
	AllowURI, DenyURI     []string // host patterns as for DNS
	// AllowWildcards permits wildcard DNS names at all (default false).
	AllowWildcards bool
}

// AnyAllow reports whether any allow list is set: then a name type
// without an allow list is denied (step-ca's policy semantics).
func (np *NamePolicy) AnyAllow() bool {
	return len(np.AllowDNS)+len(np.AllowIP)+len(np.AllowEmail)+len(np.AllowURI) > 0
}

// CAConstraint is the basic-constraints policy of a profile.
type CAConstraint struct {
	IsCA           bool
	MaxPathLen     int
	MaxPathLenZero bool
}

// Policy is a certificate policy with optional qualifiers.
type Policy struct {
	ID         asn1.ObjectIdentifier
	Qualifiers []PolicyQualifier
}

// PolicyQualifier is a CPS URI ("id-qt-cps") or a user notice ("id-qt-unotice").
type PolicyQualifier struct {
	Type  string
	Value string
}

// CSRWhitelist lists the CSR fields copied into the certificate.
type CSRWhitelist struct {
	Subject, PublicKeyAlgorithm, PublicKey, SignatureAlgorithm bool
	DNSNames, IPAddresses, EmailAddresses, URIs                bool
}

// AuthRemote forwards a profile through authsign on a remote.
type AuthRemote struct {
	Remote  string
	AuthKey string
}

// Lint configures pre-issuance linting with zlint.
type Lint struct {
	// Level: results at or above it refuse issuance. One of "info",
	// "warn", "error", "fatal"; empty means "error" (pkid's default).
	Level string
	// Disabled turns linting off (CFSSL's lint_error_level "reserved" or
	// absent on an imported config still lints at "error" in pkid).
	Disabled bool
	// Sources are the zlint lint sources to run; nil means the internal
	// PKI default set (RFC5280, RFC5480, RFC5891, RFC8813, RFC3279,
	// RFC6962, Community).
	Sources        []string
	IgnoredLints   []string
	IgnoredSources []string
}

// Config is a set of profiles (a CFSSL signing config or an HCL ca block).
type Config struct {
	Default  *Profile
	Profiles map[string]*Profile
	AuthKeys map[string]AuthKey
	// Remotes maps a name to an ordered failover list of host:port.
	Remotes map[string][]string
	// Warnings found while loading (unknown usage names, unanchored
	// whitelist regexes, ignored keys).
	Warnings []string
}

// AuthKey is an HMAC key for authsign.
type AuthKey struct {
	Type string // "standard"
	Key  []byte
}
