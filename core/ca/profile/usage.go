package profile

import (
	"crypto/x509"
	"encoding/asn1"
	"slices"
	"strings"
)

// keyUsageNames maps CFSSL's key usage names to key usage bits.
// "signing" is CFSSL's alias for digital signature.
var keyUsageNames = map[string]x509.KeyUsage{
	"signing":            x509.KeyUsageDigitalSignature,
	"digital signature":  x509.KeyUsageDigitalSignature,
	"content commitment": x509.KeyUsageContentCommitment,
	"key encipherment":   x509.KeyUsageKeyEncipherment,
	"key agreement":      x509.KeyUsageKeyAgreement,
	"data encipherment":  x509.KeyUsageDataEncipherment,
	"cert sign":          x509.KeyUsageCertSign,
	"crl sign":           x509.KeyUsageCRLSign,
	"encipher only":      x509.KeyUsageEncipherOnly,
	"decipher only":      x509.KeyUsageDecipherOnly,
}

// extKeyUsageNames maps CFSSL's extended key usage names.
var extKeyUsageNames = map[string]x509.ExtKeyUsage{
	"any":              x509.ExtKeyUsageAny,
	"server auth":      x509.ExtKeyUsageServerAuth,
	"client auth":      x509.ExtKeyUsageClientAuth,
	"code signing":     x509.ExtKeyUsageCodeSigning,
	"email protection": x509.ExtKeyUsageEmailProtection,
	"s/mime":           x509.ExtKeyUsageEmailProtection,
	"ipsec end system": x509.ExtKeyUsageIPSECEndSystem,
	"ipsec tunnel":     x509.ExtKeyUsageIPSECTunnel,
	"ipsec user":       x509.ExtKeyUsageIPSECUser,
	"timestamping":     x509.ExtKeyUsageTimeStamping,
	"ocsp signing":     x509.ExtKeyUsageOCSPSigning,
	"microsoft sgc":    x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	"netscape sgc":     x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

// keyUsageOrder names each key usage bit canonically, in bit order.
var keyUsageOrder = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digital signature"},
	{x509.KeyUsageContentCommitment, "content commitment"},
	{x509.KeyUsageKeyEncipherment, "key encipherment"},
	{x509.KeyUsageDataEncipherment, "data encipherment"},
	{x509.KeyUsageKeyAgreement, "key agreement"},
	{x509.KeyUsageCertSign, "cert sign"},
	{x509.KeyUsageCRLSign, "crl sign"},
	{x509.KeyUsageEncipherOnly, "encipher only"},
	{x509.KeyUsageDecipherOnly, "decipher only"},
}

// extKeyUsageOrder names each extended key usage canonically.
var extKeyUsageOrder = []struct {
	eku  x509.ExtKeyUsage
	name string
}{
	{x509.ExtKeyUsageAny, "any"},
	{x509.ExtKeyUsageServerAuth, "server auth"},
	{x509.ExtKeyUsageClientAuth, "client auth"},
	{x509.ExtKeyUsageCodeSigning, "code signing"},
	{x509.ExtKeyUsageEmailProtection, "email protection"},
	{x509.ExtKeyUsageIPSECEndSystem, "ipsec end system"},
	{x509.ExtKeyUsageIPSECTunnel, "ipsec tunnel"},
	{x509.ExtKeyUsageIPSECUser, "ipsec user"},
	{x509.ExtKeyUsageTimeStamping, "timestamping"},
	{x509.ExtKeyUsageOCSPSigning, "ocsp signing"},
	{x509.ExtKeyUsageMicrosoftServerGatedCrypto, "microsoft sgc"},
	{x509.ExtKeyUsageNetscapeServerGatedCrypto, "netscape sgc"},
}

// ResolveUsages turns usage names (matched exactly as CFSSL does)
// into key usage bits and extended key usages. A dotted OID is taken as an
// extended key usage (oids). Names it does not know are returned in
// unknown, in order; the caller warns and ignores them. Duplicate
// extended usages are kept once.
func ResolveUsages(names []string) (ku x509.KeyUsage, eku []x509.ExtKeyUsage, oids []asn1.ObjectIdentifier, unknown []string) {
	for _, n := range names {
		if bit, ok := keyUsageNames[n]; ok {
			ku |= bit
			continue
		}
		if e, ok := extKeyUsageNames[n]; ok {
			if !slices.Contains(eku, e) {
				eku = append(eku, e)
			}
			continue
		}
		if isDottedOID(n) {
			if oid, err := parseOID(n); err == nil {
				if !slices.ContainsFunc(oids, oid.Equal) {
					oids = append(oids, oid)
				}
				continue
			}
		}
		unknown = append(unknown, n)
	}
	return ku, eku, oids, unknown
}

// usageHint suggests the known usage name an unknown one was probably
// meant to be (case, spacing, '_' or '-' for ' '), or "".
func usageHint(n string) string {
	norm := strings.Join(strings.Fields(strings.NewReplacer("_", " ", "-", " ").Replace(strings.ToLower(n))), " ")
	if norm == n {
		return ""
	}
	if _, ok := keyUsageNames[norm]; ok {
		return norm
	}
	if _, ok := extKeyUsageNames[norm]; ok {
		return norm
	}
	return ""
}

// suggestUsage returns the usage name n was probably meant to be: the
// usageHint normalisation first, then the known name closest to it by
// edit distance; "" when nothing is close.
func suggestUsage(n string) string {
	if hint := usageHint(n); hint != "" {
		return hint
	}
	return suggest(strings.ToLower(n), knownUsageNames())
}

// knownUsageNames lists every usage name, sorted.
func knownUsageNames() []string {
	names := make([]string, 0, len(keyUsageNames)+len(extKeyUsageNames))
	for n := range keyUsageNames {
		names = append(names, n)
	}
	for n := range extKeyUsageNames {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// UsageNames returns the usage names of p for `info`: the names as
// configured when p carries them (unknown ones included, as CFSSL
// reports), otherwise canonical names derived from the usage bits,
// extended usages and OIDs. It returns nil when p has no usage.
func UsageNames(p *Profile) []string {
	if p == nil {
		return nil
	}
	if len(p.Usages) > 0 {
		return slices.Clone(p.Usages)
	}
	var out []string
	for _, u := range keyUsageOrder {
		if p.KeyUsage&u.bit != 0 {
			out = append(out, u.name)
		}
	}
	for _, e := range p.ExtKeyUsage {
		out = append(out, extKeyUsageName(e))
	}
	for _, oid := range p.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	return out
}

// extKeyUsageName is the canonical name of e.
func extKeyUsageName(e x509.ExtKeyUsage) string {
	for _, u := range extKeyUsageOrder {
		if u.eku == e {
			return u.name
		}
	}
	return "unknown extended usage"
}

// keyUsageName is the canonical name of one key usage bit.
func keyUsageName(bit x509.KeyUsage) string {
	for _, u := range keyUsageOrder {
		if u.bit == bit {
			return u.name
		}
	}
	return "unknown key usage"
}
