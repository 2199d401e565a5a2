package certinfo

import (
	"crypto/x509"
	"encoding/pem"
	"net"
)

// sigAlgNames are CFSSL's names (helpers.SignatureString), plus the
// RSA-PSS algorithms, which CFSSL reports as "Unknown Signature".
var sigAlgNames = map[x509.SignatureAlgorithm]string{
	x509.MD2WithRSA:       "MD2WithRSA",
	x509.MD5WithRSA:       "MD5WithRSA",
	x509.SHA1WithRSA:      "SHA1WithRSA",
	x509.SHA256WithRSA:    "SHA256WithRSA",
	x509.SHA384WithRSA:    "SHA384WithRSA",
	x509.SHA512WithRSA:    "SHA512WithRSA",
	x509.SHA256WithRSAPSS: "SHA256WithRSAPSS",
	x509.SHA384WithRSAPSS: "SHA384WithRSAPSS",
	x509.SHA512WithRSAPSS: "SHA512WithRSAPSS",
	x509.DSAWithSHA1:      "DSAWithSHA1",
	x509.DSAWithSHA256:    "DSAWithSHA256",
	x509.ECDSAWithSHA1:    "ECDSAWithSHA1",
	x509.ECDSAWithSHA256:  "ECDSAWithSHA256",
	x509.ECDSAWithSHA384:  "ECDSAWithSHA384",
	x509.ECDSAWithSHA512:  "ECDSAWithSHA512",
	x509.PureEd25519:      "Ed25519",
}

// SignatureString names a signature algorithm as CFSSL prints it
// ("SHA256WithRSA", "ECDSAWithSHA256", "Ed25519", ...); unknown
// algorithms are "Unknown Signature".
func SignatureString(alg x509.SignatureAlgorithm) string {
	if s, ok := sigAlgNames[alg]; ok {
		return s
	}
	return "Unknown Signature"
}

// sans lists DNS names, then IP addresses.
func sans(dns []string, ips []net.IP) []string {
	out := append([]string(nil), dns...)
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

func pemCertificate(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
