package csr

import (
	"crypto/x509"
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

// CertificateSubject is the subject a certificate issued for cr carries:
// the CSR's, with every attribute Go's pkix.Name has no field for (E as
// emailAddress, the OID entries, anything else) kept as an extra name in
// its CSR order. Go parses such attributes into Names only, which
// x509.CreateCertificate ignores; CFSSL keeps them the same way.
func CertificateSubject(cr *x509.CertificateRequest) pkix.Name {
	n := cr.Subject
	n.ExtraNames = nil
	for _, a := range n.Names {
		if !fieldAttribute(a.Type) {
			n.ExtraNames = append(n.ExtraNames, a)
		}
	}
	n.Names = nil
	return n
}

// fieldAttribute reports whether t is one of the attributes pkix.Name has a
// field for (2.5.4.3 CN, 5 serialNumber, 6 C, 7 L, 8 ST, 9 street, 10 O,
// 11 OU, 17 postalCode).
func fieldAttribute(t asn1.ObjectIdentifier) bool {
	if len(t) != 4 || t[0] != 2 || t[1] != 5 || t[2] != 4 {
		return false
	}
	switch t[3] {
	case 3, 5, 6, 7, 8, 9, 10, 11, 17:
		return true
	}
	return false
}
