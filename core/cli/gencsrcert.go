package cli

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"

	"github.com/pkid/pkid/core/ca/csr"
)

// gencsrFromCert is `gencsr -key K -cert C`: a request for key K carrying
// certificate C's subject (byte for byte) and SANs, for renewing C (with
// the same key or a new one). -hostname replaces the SANs, -cn the common
// name. A CA certificate gives a request with basic constraints CA:TRUE
// and its path length, as CFSSL does. Prints {"csr","key"}, the key as read.
func gencsrFromCert(e *env, cf *compatFlags) error {
	certPEM, err := readInput(e, cf.cert)
	if err != nil {
		return fmt.Errorf("reading -cert: %w", err)
	}
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		return fmt.Errorf("-cert %s: %w", cf.cert, err)
	}
	keyPEM, err := readInput(e, cf.key)
	if err != nil {
		return fmt.Errorf("reading -key: %w", err)
	}
	key, err := csr.ParsePrivateKey(keyPEM)
	if err != nil {
		return fmt.Errorf("-key %s: %w", cf.key, err)
	}
	tpl := &x509.CertificateRequest{
		RawSubject:         cert.RawSubject,
		SignatureAlgorithm: csr.SignatureAlgorithm(key.Public()),
		DNSNames:           cert.DNSNames,
		IPAddresses:        cert.IPAddresses,
		EmailAddresses:     cert.EmailAddresses,
		URIs:               cert.URIs,
	}
	if cf.hostname != "" {
		tpl.DNSNames, tpl.IPAddresses, tpl.EmailAddresses, tpl.URIs = csr.ClassifyHosts(csr.SplitHostname(cf.hostname))
	}
	if cf.cn != "" {
		if tpl.RawSubject, err = replaceCN(cert.RawSubject, cf.cn); err != nil {
			return err
		}
	}
	if cert.IsCA {
		ext, err := caRequestExtension(cert)
		if err != nil {
			return err
		}
		tpl.ExtraExtensions = append(tpl.ExtraExtensions, ext)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tpl, key)
	if err != nil {
		return fmt.Errorf("creating certificate request: %w", err)
	}
	return writeResult(e, map[string]string{"csr": string(pem.EncodeToMemory(&pem.Block{Type: csr.LabelCSR, Bytes: der})), "key": string(keyPEM)})
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// replaceCN sets every common name of the DER name raw to cn (appending
// one when there is none), keeping the other attributes and their order.
func replaceCN(raw []byte, cn string) ([]byte, error) {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &rdns); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("certificate subject: malformed name")
	}
	found := false
	for i := range rdns {
		for j := range rdns[i] {
			if rdns[i][j].Type.Equal(oidCommonName) {
				rdns[i][j].Value, found = cn, true
			}
		}
	}
	if !found {
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: oidCommonName, Value: cn}})
	}
	return asn1.Marshal(rdns)
}

// caRequestExtension is the critical CA:TRUE basic constraints request
// with cert's path length.
func caRequestExtension(cert *x509.Certificate) (pkix.Extension, error) {
	pathLen := cert.MaxPathLen
	if pathLen == 0 && !cert.MaxPathLenZero {
		pathLen = -1
	}
	v, err := asn1.Marshal(struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}{true, pathLen})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: csr.OIDBasicConstraints, Critical: true, Value: v}, nil
}
