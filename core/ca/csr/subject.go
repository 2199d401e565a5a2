package csr

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
)

// OIDEmailAddress is the PKCS#9 emailAddress attribute written for Name.E.
var OIDEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// Subject builds the certificate subject the way CFSSL does: CN, then for
// each names element in order its non-empty C, ST, L, O and OU values
// (several elements give multi-valued RDNs), serialnumber as the subject
// serialNumber, and as extra attributes per element its OID entries (in
// numeric OID order) followed by E as emailAddress. Name.SerialNumber is
// ignored. The error names a bad OID key.
func (r *Request) Subject() (pkix.Name, error) {
	name := pkix.Name{CommonName: r.CN, SerialNumber: r.SerialNumber}
	for i, n := range r.Names {
		appendIf(&name.Country, n.C)
		appendIf(&name.Province, n.ST)
		appendIf(&name.Locality, n.L)
		appendIf(&name.Organization, n.O)
		appendIf(&name.OrganizationalUnit, n.OU)
		extra := make([]pkix.AttributeTypeAndValue, 0, len(n.OID))
		for k, v := range n.OID {
			oid, err := ParseOID(k)
			if err != nil {
				return pkix.Name{}, invalidf("names[%d].OID: %w", i, err)
			}
			extra = append(extra, pkix.AttributeTypeAndValue{Type: oid, Value: v})
		}
		slices.SortFunc(extra, func(a, b pkix.AttributeTypeAndValue) int {
			return compareOID(a.Type, b.Type)
		})
		name.ExtraNames = append(name.ExtraNames, extra...)
		if n.E != "" {
			name.ExtraNames = append(name.ExtraNames,
				pkix.AttributeTypeAndValue{Type: OIDEmailAddress, Value: n.E})
		}
	}
	return name, nil
}

func appendIf(dst *[]string, v string) {
	if v != "" {
		*dst = append(*dst, v)
	}
}
