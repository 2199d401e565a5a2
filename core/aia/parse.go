package aia

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// ParseCerts reads what an AIA URL serves: one DER certificate (RFC 5280's
// expectation), PEM certificates, or a PKCS#7 certs-only bag in DER or PEM
// (RFC 5280 4.2.2.1's "certs-only CMS"). BER indefinite lengths are not
// supported. Errors: no certificate, more than 16, or one that does not
// parse.
func ParseCerts(b []byte) ([]*x509.Certificate, error) {
	var ders [][]byte
	if bytes.Contains(b, []byte("-----BEGIN")) {
		rest := b
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			switch blk.Type {
			case "CERTIFICATE":
				ders = append(ders, blk.Bytes)
			case "PKCS7", "CMS":
				ds, err := pkcs7Certs(blk.Bytes)
				if err != nil {
					return nil, err
				}
				ders = append(ders, ds...)
			default:
				return nil, fmt.Errorf("PEM block %q is not a certificate", blk.Type)
			}
			if len(ders) > maxCerts {
				break
			}
		}
	} else if c, err := x509.ParseCertificate(b); err == nil {
		return []*x509.Certificate{c}, nil
	} else {
		ds, perr := pkcs7Certs(b)
		if perr != nil {
			return nil, fmt.Errorf("neither a DER certificate (%v) nor PKCS#7 (%v)", err, perr)
		}
		ders = ds
	}
	if len(ders) == 0 {
		return nil, errors.New("no certificate in the response")
	}
	if len(ders) > maxCerts {
		return nil, fmt.Errorf("more than %d certificates in the response", maxCerts)
	}
	out := make([]*x509.Certificate, 0, len(ders))
	for i, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i+1, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// pkcs7Certs returns the certificates field of a DER ContentInfo holding
// SignedData (RFC 5652 5.1), without checking any signature.
func pkcs7Certs(der []byte) ([][]byte, error) {
	bad := errors.New("not a PKCS#7 signed-data structure")
	s := cryptobyte.String(der)
	var ci, content, sd cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !s.Empty() ||
		!ci.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidSignedData) ||
		!ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!content.ReadASN1(&sd, cbasn1.SEQUENCE) {
		return nil, bad
	}
	var version int64
	var certs cryptobyte.String
	var has bool
	if !sd.ReadASN1Integer(&version) || !sd.SkipASN1(cbasn1.SET) || !sd.SkipASN1(cbasn1.SEQUENCE) ||
		!sd.ReadOptionalASN1(&certs, &has, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, bad
	}
	var out [][]byte
	for !certs.Empty() {
		var c cryptobyte.String
		if !certs.ReadASN1Element(&c, cbasn1.SEQUENCE) {
			return nil, errors.New("PKCS#7 certificates field is malformed")
		}
		out = append(out, c)
		if len(out) > maxCerts {
			return nil, fmt.Errorf("more than %d certificates in the PKCS#7 bag", maxCerts)
		}
	}
	return out, nil
}
