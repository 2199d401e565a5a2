package ca

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"

	"github.com/pkid/pkid/core/ca/profile"
)

var (
	oidCertificatePolicies = asn1.ObjectIdentifier{2, 5, 29, 32}
	oidQtCPS               = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 2, 1}
	oidQtUnotice           = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 2, 2}
)

type policyInformation struct {
	Policy     asn1.ObjectIdentifier
	Qualifiers []policyQualifierInfo `asn1:"optional"`
}

type policyQualifierInfo struct {
	PolicyQualifierID asn1.ObjectIdentifier
	Qualifier         asn1.RawValue
}

type userNotice struct {
	ExplicitText string `asn1:"utf8"`
}

// policiesExtension encodes certificatePolicies with CPS URIs and user
// notices, which x509.Certificate.Policies cannot express.
func policiesExtension(ps []profile.Policy) (pkix.Extension, error) {
	var infos []policyInformation
	for _, p := range ps {
		pi := policyInformation{Policy: p.ID}
		for _, q := range p.Qualifiers {
			var (
				id  asn1.ObjectIdentifier
				val []byte
				err error
			)
			switch q.Type {
			case "id-qt-cps":
				id = oidQtCPS
				val, err = asn1.MarshalWithParams(q.Value, "ia5")
			case "id-qt-unotice":
				id = oidQtUnotice
				val, err = asn1.Marshal(userNotice{ExplicitText: q.Value})
			default:
				return pkix.Extension{}, fmt.Errorf("unknown policy qualifier type %q", q.Type)
			}
			if err != nil {
				return pkix.Extension{}, fmt.Errorf("policy %s qualifier: %w", p.ID, err)
			}
			pi.Qualifiers = append(pi.Qualifiers, policyQualifierInfo{PolicyQualifierID: id, Qualifier: asn1.RawValue{FullBytes: val}})
		}
		infos = append(infos, pi)
	}
	der, err := asn1.Marshal(infos)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidCertificatePolicies, Value: der}, nil
}
