package csr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
)

// Extension OIDs Generate writes.
var (
	OIDBasicConstraints    = asn1.ObjectIdentifier{2, 5, 29, 19}
	OIDSubjectAltName      = asn1.ObjectIdentifier{2, 5, 29, 17}
	OIDDelegationUsage     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 44363, 44}
	delegationUsageNullDER = []byte{0x05, 0x00} // DelegationUsage ::= NULL (RFC 9345)
)

// LabelCSR is the PEM label Generate writes.
const LabelCSR = "CERTIFICATE REQUEST"

// Generate builds and signs a PKCS#10 CSR for r with key and returns it as
// one "CERTIFICATE REQUEST" PEM block. The CSR has r's Subject, SANs from
// r.Hosts (ClassifyHosts), the signature algorithm of SignatureAlgorithm,
// and requested extensions in this order: subjectAltName, basicConstraints
// (critical, CA:TRUE with the pathlen of CAConfig.MaxPathLen) when r.CA is
// set, the delegated-credential usage (1.3.6.1.4.1.44363.44, NULL,
// non-critical) when r.DelegationEnabled, then r.Extensions.
//
// Hosts are checked and IDNs converted to A-labels (CheckSANs).
//
// Errors: r fails Validate or a host is malformed (both match
// ErrInvalid), an extension is requested
// twice (also via hosts plus a raw subjectAltName), the key type is not
// RSA, ECDSA or Ed25519, or signing fails.
func Generate(r *Request, key crypto.Signer) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	subject, err := r.Subject()
	if err != nil {
		return nil, err
	}
	sigAlg := SignatureAlgorithm(key.Public())
	if sigAlg == x509.UnknownSignatureAlgorithm {
		return nil, fmt.Errorf("csr: unsupported key type %T: want RSA, ECDSA or Ed25519", key.Public())
	}
	tpl := &x509.CertificateRequest{Subject: subject, SignatureAlgorithm: sigAlg}
	tpl.DNSNames, tpl.IPAddresses, tpl.EmailAddresses, tpl.URIs = ClassifyHosts(r.Hosts)
	if tpl.DNSNames, tpl.EmailAddresses, tpl.URIs, err = CheckSANs(tpl.DNSNames, tpl.EmailAddresses, tpl.URIs); err != nil {
		return nil, err
	}
	hasSANs := len(tpl.DNSNames)+len(tpl.IPAddresses)+len(tpl.EmailAddresses)+len(tpl.URIs) > 0

	if r.CA != nil {
		ext, err := basicConstraintsCA(r.CA)
		if err != nil {
			return nil, err
		}
		tpl.ExtraExtensions = append(tpl.ExtraExtensions, ext)
	}
	if r.DelegationEnabled {
		tpl.ExtraExtensions = append(tpl.ExtraExtensions,
			pkix.Extension{Id: OIDDelegationUsage, Value: delegationUsageNullDER})
	}
	for _, e := range r.Extensions {
		tpl.ExtraExtensions = append(tpl.ExtraExtensions,
			pkix.Extension{Id: e.ID, Critical: e.Critical, Value: e.Value})
	}
	seen := map[string]bool{}
	if hasSANs {
		seen[OIDSubjectAltName.String()] = true
	}
	for _, e := range tpl.ExtraExtensions {
		k := e.Id.String()
		if seen[k] {
			return nil, invalidf("extension %s requested twice (by hosts, ca or delegation_enabled and by extensions)", k)
		}
		seen[k] = true
	}

	der, err := x509.CreateCertificateRequest(rand.Reader, tpl, key)
	if err != nil {
		return nil, fmt.Errorf("csr: creating certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: LabelCSR, Bytes: der}), nil
}

// basicConstraintsCA is the CSR's CA:TRUE request (critical, as CFSSL).
func basicConstraintsCA(ca *CAConfig) (pkix.Extension, error) {
	maxPathLen, _ := ca.MaxPathLen()
	v, err := asn1.Marshal(struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}{true, maxPathLen})
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("csr: encoding basic constraints: %w", err)
	}
	return pkix.Extension{Id: OIDBasicConstraints, Critical: true, Value: v}, nil
}

// SignatureAlgorithm is the algorithm pkid and CFSSL sign with for a public
// key: RSA of 4096 bits or more SHA-512, 3072 or more SHA-384, else SHA-256;
// ECDSA SHA-256/384/512 for P-256/P-384/P-521 (SHA-256 for other curves);
// Ed25519 pure. Other keys give x509.UnknownSignatureAlgorithm.
func SignatureAlgorithm(pub crypto.PublicKey) x509.SignatureAlgorithm {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch n := k.N.BitLen(); {
		case n >= 4096:
			return x509.SHA512WithRSA
		case n >= 3072:
			return x509.SHA384WithRSA
		default:
			return x509.SHA256WithRSA
		}
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 521:
			return x509.ECDSAWithSHA512
		case 384:
			return x509.ECDSAWithSHA384
		default:
			return x509.ECDSAWithSHA256
		}
	case ed25519.PublicKey:
		return x509.PureEd25519
	}
	return x509.UnknownSignatureAlgorithm
}
