package csr

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Sentinel errors of ParseCSR; messages read "malformed CSR: ..." and
// "CSR signature invalid: ...".
var (
	ErrMalformedCSR = errors.New("malformed CSR")
	ErrCSRSignature = errors.New("CSR signature invalid")
)

// ParseCSR reads a PKCS#10 request given as PEM ("CERTIFICATE REQUEST" or
// "NEW CERTIFICATE REQUEST"; leading text and other blocks before it are
// skipped) or as raw DER, and verifies its self-signature. Errors wrap
// ErrMalformedCSR (no CSR block, bad DER, trailing data) or ErrCSRSignature.
func ParseCSR(pemOrDER []byte) (*x509.CertificateRequest, error) {
	der := pemOrDER
	if bytes.Contains(pemOrDER, []byte("-----BEGIN")) {
		der = nil
		rest := pemOrDER
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				return nil, fmt.Errorf("%w: no CERTIFICATE REQUEST PEM block found", ErrMalformedCSR)
			}
			if block.Type == "CERTIFICATE REQUEST" || block.Type == "NEW CERTIFICATE REQUEST" {
				der = block.Bytes
				break
			}
		}
	}
	if len(der) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrMalformedCSR)
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedCSR, err)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCSRSignature, err)
	}
	return req, nil
}
