// Package certinfo builds the JSON objects `certinfo` prints and the
// /api/v1/cfssl/certinfo endpoint returns: CFSSL's certificate summary
// and pkid's defined form for certificate requests
// (docs/differences-from-cfssl.md, "Certificate requests have a defined
// summary"). Field order is the JSON key order, as in CFSSL.
package certinfo

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Info is CFSSL's summary of a certificate.
type Info struct {
	Subject      Name      `json:"subject"`
	Issuer       Name      `json:"issuer"`
	SerialNumber string    `json:"serial_number"`
	SANs         []string  `json:"sans,omitempty"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	SigAlg       string    `json:"sigalg"`
	AKI          string    `json:"authority_key_id"`
	SKI          string    `json:"subject_key_id"`
	PEM          string    `json:"pem"`
}

// Name is a distinguished name. Multi-valued attributes are joined by
// ","; CommonName and SerialNumber hold the last value, as pkix.Name does.
// Names lists every attribute value (unknown attributes included) in RDN
// order.
type Name struct {
	CommonName         string   `json:"common_name,omitempty"`
	SerialNumber       string   `json:"serial_number,omitempty"`
	Country            string   `json:"country,omitempty"`
	Organization       string   `json:"organization,omitempty"`
	OrganizationalUnit string   `json:"organizational_unit,omitempty"`
	Locality           string   `json:"locality,omitempty"`
	Province           string   `json:"province,omitempty"`
	StreetAddress      string   `json:"street_address,omitempty"`
	PostalCode         string   `json:"postal_code,omitempty"`
	Names              []string `json:"names,omitempty"`
}

// Certificate summarises c.
func Certificate(c *x509.Certificate) *Info {
	return &Info{
		Subject:      NameOf(c.Subject),
		Issuer:       NameOf(c.Issuer),
		SerialNumber: c.SerialNumber.String(),
		SANs:         sans(c.DNSNames, c.IPAddresses),
		NotBefore:    c.NotBefore.UTC(),
		NotAfter:     c.NotAfter.UTC(),
		SigAlg:       SignatureString(c.SignatureAlgorithm),
		AKI:          KeyID(c.AuthorityKeyId),
		SKI:          KeyID(c.SubjectKeyId),
		PEM:          string(pemCertificate(c.Raw)),
	}
}

// NameOf converts a parsed distinguished name.
func NameOf(n pkix.Name) Name {
	out := Name{
		CommonName:         n.CommonName,
		SerialNumber:       n.SerialNumber,
		Country:            strings.Join(n.Country, ","),
		Organization:       strings.Join(n.Organization, ","),
		OrganizationalUnit: strings.Join(n.OrganizationalUnit, ","),
		Locality:           strings.Join(n.Locality, ","),
		Province:           strings.Join(n.Province, ","),
		StreetAddress:      strings.Join(n.StreetAddress, ","),
		PostalCode:         strings.Join(n.PostalCode, ","),
	}
	for _, atv := range n.Names {
		if s, ok := atv.Value.(string); ok {
			out.Names = append(out.Names, s)
		} else {
			out.Names = append(out.Names, fmt.Sprint(atv.Value))
		}
	}
	return out
}

// KeyID formats a key identifier as CFSSL does: uppercase hex bytes joined
// by ":"; "" when absent.
func KeyID(id []byte) string {
	var b strings.Builder
	for i, c := range id {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// Marshal encodes v (an *Info or *CSRInfo) the way `certinfo` prints it:
// two-space indented JSON, HTML characters escaped, no trailing newline.
func Marshal(v any) ([]byte, error) {
	return json.MarshalIndent(v, "", "  ")
}
