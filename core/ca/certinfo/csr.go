package certinfo

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
)

// CSRInfo is pkid's summary of a certificate request
// (docs/differences-from-cfssl.md, "Certificate requests have a defined
// summary"; CFSSL dumps
// Go struct fields instead).
type CSRInfo struct {
	Subject Name     `json:"subject"`
	SANs    []string `json:"sans,omitempty"`
	// KeyAlgorithm is "RSA", "ECDSA", "Ed25519" or "unknown".
	KeyAlgorithm string `json:"key_algorithm"`
	// KeySize is the RSA modulus length, the ECDSA curve size or 256 for
	// Ed25519, in bits; 0 when unknown.
	KeySize int    `json:"key_size"`
	SigAlg  string `json:"sigalg"`
	// Extensions are the requested extensions in request order.
	Extensions []Extension `json:"extensions,omitempty"`
}

// Extension is one requested extension. Value is the standard base64 of
// the extension value's DER, as csr.json "extensions" takes it.
type Extension struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Critical bool   `json:"critical"`
	Value    []byte `json:"value"`
}

// CSR summarises r.
func CSR(r *x509.CertificateRequest) *CSRInfo {
	alg, size := keyInfo(r.PublicKey)
	out := &CSRInfo{
		Subject:      NameOf(r.Subject),
		SANs:         sans(r.DNSNames, r.IPAddresses),
		KeyAlgorithm: alg,
		KeySize:      size,
		SigAlg:       SignatureString(r.SignatureAlgorithm),
	}
	for _, e := range r.Extensions {
		out.Extensions = append(out.Extensions, Extension{
			ID: e.Id.String(), Name: extensionName(e.Id), Critical: e.Critical, Value: e.Value,
		})
	}
	return out
}

func keyInfo(pub any) (string, int) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	return "unknown", 0
}

// extensionNames are the common extensions a request carries.
var extensionNames = map[string]string{
	"2.5.29.14":               "subjectKeyIdentifier",
	"2.5.29.15":               "keyUsage",
	"2.5.29.17":               "subjectAltName",
	"2.5.29.19":               "basicConstraints",
	"2.5.29.30":               "nameConstraints",
	"2.5.29.31":               "cRLDistributionPoints",
	"2.5.29.32":               "certificatePolicies",
	"2.5.29.35":               "authorityKeyIdentifier",
	"2.5.29.37":               "extKeyUsage",
	"1.3.6.1.5.5.7.1.1":       "authorityInfoAccess",
	"1.3.6.1.5.5.7.1.24":      "tlsFeature",
	"1.3.6.1.4.1.44363.44":    "delegationUsage",
	"1.3.6.1.4.1.11129.2.4.3": "ctPoison",
	"1.3.6.1.5.5.7.48.1.5":    "ocspNoCheck",
	"1.2.840.113549.1.9.15":   "smimeCapabilities",
	"1.3.6.1.4.1.311.20.2":    "msCertificateTemplateName",
	"1.3.6.1.4.1.11129.2.4.2": "ctSCTList",
	"2.16.840.1.113730.1.1":   "netscapeCertType",
	"1.3.6.1.4.1.311.21.7":    "msCertificateTemplate",
	"1.3.6.1.4.1.311.21.10":   "msApplicationPolicies",
	"1.2.840.113533.7.65.0":   "entrustVersionInfo",
	"2.5.29.9":                "subjectDirectoryAttributes",
}

func extensionName(id asn1.ObjectIdentifier) string { return extensionNames[id.String()] }
