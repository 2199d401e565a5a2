package bundle

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"

	"golang.org/x/crypto/pkcs12"

	"github.com/pkid/pkid/core/ca/csr"
)

// MaxChainCerts caps the certificates ParseChain accepts: a chain the
// bundler is asked to sort out is a handful, not thousands.
const MaxChainCerts = 64

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// ParseChain reads the certificate input of a bundle request as CFSSL
// does: PEM (every CERTIFICATE block, other blocks skipped), else DER as
// PKCS#7 signed data, one certificate, or PKCS#12 when password is not
// empty (its key is returned too). Errors are *Error: CodeCertDecode for input that is
// none of these or holds no certificate, CodeCertParse for a certificate
// that does not parse, CodeBadRequest past MaxChainCerts.
func ParseChain(data []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	trimmed := bytes.TrimSpace(data)
	if bytes.Contains(trimmed, []byte("-----BEGIN")) {
		certs, err := parsePEMChain(trimmed)
		return certs, nil, err
	}
	if len(trimmed) == 0 {
		return nil, nil, newError(CodeCertDecode, "Failed to decode certificate")
	}
	if certs, ok, err := parsePKCS7(data); ok {
		return certs, nil, err
	}
	if c, err := x509.ParseCertificate(data); err == nil {
		return []*x509.Certificate{c}, nil, nil
	}
	// PKCS#12 only with a password: the file sets its own key-derivation
	// cost (iterations), so an anonymous caller could make one request
	// burn minutes of CPU. The API has no password field; the CLI's
	// -password is the operator's own file.
	if password == "" {
		return nil, nil, newError(CodeCertDecode, "Failed to decode certificate")
	}
	if blocks, err := pkcs12.ToPEM(data, password); err == nil {
		var certs []*x509.Certificate
		var key crypto.PrivateKey
		for _, b := range blocks {
			switch b.Type {
			case "CERTIFICATE":
				if len(certs) >= MaxChainCerts {
					return nil, nil, errorf(CodeBadRequest, "more than %d certificates", MaxChainCerts)
				}
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return nil, nil, &Error{Code: CodeCertParse, Msg: "Failed to parse certificate", Err: err}
				}
				certs = append(certs, c)
			case "PRIVATE KEY":
				if k, err := csr.ParsePrivateKey(pem.EncodeToMemory(b)); err == nil {
					key = k
				}
			}
		}
		if len(certs) > 0 {
			return leafFirst(certs, key), key, nil
		}
	}
	return nil, nil, newError(CodeCertDecode, "Failed to decode certificate")
}

// leafFirst moves the certificate matching a PKCS#12 key to the front:
// PKCS#12 bags come in no defined order.
func leafFirst(certs []*x509.Certificate, key crypto.PrivateKey) []*x509.Certificate {
	s, ok := key.(crypto.Signer)
	if !ok {
		return certs
	}
	pub, ok := s.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return certs
	}
	for i, c := range certs {
		if pub.Equal(c.PublicKey) {
			out := append([]*x509.Certificate{c}, certs[:i]...)
			return append(out, certs[i+1:]...)
		}
	}
	return certs
}

func parsePEMChain(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if len(certs) >= MaxChainCerts {
			return nil, errorf(CodeBadRequest, "more than %d certificates", MaxChainCerts)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, &Error{Code: CodeCertParse, Msg: "Failed to parse certificate", Err: err}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, newError(CodeCertDecode, "Failed to decode certificate")
	}
	return certs, nil
}

// parsePKCS7 reads the certificates of a PKCS#7 SignedData (a .p7b
// "certs-only" file). ok is false when data is not PKCS#7 at all.
func parsePKCS7(data []byte) (certs []*x509.Certificate, ok bool, err error) {
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	if rest, err := asn1.Unmarshal(data, &ci); err != nil || len(rest) != 0 || !ci.Type.Equal(oidSignedData) {
		return nil, false, nil
	}
	var sd struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		ContentInfo      asn1.RawValue
		Certificates     asn1.RawValue `asn1:"optional,tag:0"`
		CRLs             asn1.RawValue `asn1:"optional,tag:1"`
		SignerInfos      asn1.RawValue
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, true, &Error{Code: CodeCertDecode, Msg: "Failed to decode certificate", Err: fmt.Errorf("pkcs7: %w", err)}
	}
	rest := sd.Certificates.Bytes
	for len(rest) > 0 {
		var raw asn1.RawValue
		rest, err = asn1.Unmarshal(rest, &raw)
		if err != nil {
			return nil, true, &Error{Code: CodeCertDecode, Msg: "Failed to decode certificate", Err: fmt.Errorf("pkcs7: %w", err)}
		}
		if len(certs) >= MaxChainCerts {
			return nil, true, errorf(CodeBadRequest, "more than %d certificates", MaxChainCerts)
		}
		c, err := x509.ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, true, &Error{Code: CodeCertParse, Msg: "Failed to parse certificate", Err: err}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, true, &Error{Code: CodeCertDecode, Msg: "Failed to decode certificate", Err: errors.New("pkcs7: no certificates")}
	}
	return certs, true, nil
}

// ParseKey reads the optional private key of a bundle request. Errors are
// *Error: 2100 for an encrypted key, 2003 for anything unreadable.
func ParseKey(data []byte) (crypto.PrivateKey, error) {
	k, err := csr.ParsePrivateKey(data)
	if errors.Is(err, csr.ErrEncryptedKey) {
		return nil, &Error{Code: CodeKeyEncrypted, Msg: "Private key is encrypted.", Err: err}
	}
	if err != nil {
		return nil, &Error{Code: CodeKeyParse, Msg: "Failed to parse private key", Err: err}
	}
	return k, nil
}
