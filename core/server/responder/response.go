package responder

import (
	"encoding/asn1"
	"errors"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Fixed unsigned OCSP error responses (OCSPResponse with only a
// responseStatus).
var (
	malformedRequestDER = []byte{0x30, 0x03, 0x0A, 0x01, 0x01}
	internalErrorDER    = []byte{0x30, 0x03, 0x0A, 0x01, 0x02}
	unauthorizedDER     = []byte{0x30, 0x03, 0x0A, 0x01, 0x06}
)

var oidBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}

// responseInfo is what the handler and FileSource need from a DER response
// that x/crypto/ocsp does not expose: the CertIDs and whether the
// ResponseData carries a nonce extension.
type responseInfo struct {
	certIDs  []certID
	hasNonce bool
}

var errBadResponse = errors.New("not a successful basic OCSP response")

// parseResponseInfo walks a successful id-pkix-ocsp-basic OCSPResponse
// (RFC 6960, section 4.2.1) down to its SingleResponses' CertIDs and the
// responseExtensions. The signature is not checked.
func parseResponseInfo(der []byte) (*responseInfo, error) {
	in := cryptobyte.String(der)
	var resp, rbWrap, rb, basicOct, basic, tbs, responses cryptobyte.String
	var status int
	var typ asn1.ObjectIdentifier
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !in.Empty() ||
		!resp.ReadASN1Enum(&status) || status != 0 ||
		!resp.ReadASN1(&rbWrap, tag0) || !resp.Empty() ||
		!rbWrap.ReadASN1(&rb, cbasn1.SEQUENCE) || !rbWrap.Empty() ||
		!rb.ReadASN1ObjectIdentifier(&typ) || !typ.Equal(oidBasic) ||
		!rb.ReadASN1(&basicOct, cbasn1.OCTET_STRING) || !rb.Empty() ||
		!basicOct.ReadASN1(&basic, cbasn1.SEQUENCE) ||
		!basic.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.SkipOptionalASN1(tag0) || // version
		!(tbs.SkipASN1(tag1) || tbs.SkipASN1(tag2)) || // responderID
		!tbs.SkipASN1(cbasn1.GeneralizedTime) ||
		!tbs.ReadASN1(&responses, cbasn1.SEQUENCE) {
		return nil, errBadResponse
	}
	info := &responseInfo{}
	for !responses.Empty() {
		var single, id cryptobyte.String
		if !responses.ReadASN1(&single, cbasn1.SEQUENCE) || !single.ReadASN1(&id, cbasn1.SEQUENCE) {
			return nil, errBadResponse
		}
		c, err := parseCertID(id)
		if err != nil {
			return nil, err
		}
		info.certIDs = append(info.certIDs, c)
	}
	var extsWrap, exts cryptobyte.String
	var hasExts bool
	if !tbs.ReadOptionalASN1(&extsWrap, &hasExts, tag1) || !tbs.Empty() {
		return nil, errBadResponse
	}
	if hasExts {
		if !extsWrap.ReadASN1(&exts, cbasn1.SEQUENCE) || !extsWrap.Empty() {
			return nil, errBadResponse
		}
		_, found, err := findExtension(exts, oidNonce)
		if err != nil {
			return nil, err
		}
		info.hasNonce = found
	}
	return info, nil
}
