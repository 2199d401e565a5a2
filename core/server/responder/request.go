package responder

import (
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Request is one parsed OCSP request: the CertID of its single Request and
// the request's nonce.
type Request struct {
	// Hash is the CertID hash algorithm: SHA-1, SHA-256, SHA-384 or SHA-512.
	Hash crypto.Hash
	// NameHash and KeyHash are the CertID's issuerNameHash and
	// issuerKeyHash (Hash.Size() bytes each).
	NameHash, KeyHash []byte
	// Serial is the CertID's serialNumber.
	Serial *big.Int
	// Nonce is the extnValue contents of the id-pkix-ocsp-nonce request
	// extension, as sent (usually an OCTET STRING wrapping the nonce); nil
	// when the request has none.
	Nonce []byte
}

// ErrMalformed is wrapped by every ParseRequest error.
var ErrMalformed = errors.New("malformed OCSP request")

var (
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidNonce  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
)

func oidEq(a, b asn1.ObjectIdentifier) bool { return a.Equal(b) }

func hashForOID(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oidEq(oid, oidSHA1):
		return crypto.SHA1
	case oidEq(oid, oidSHA256):
		return crypto.SHA256
	case oidEq(oid, oidSHA384):
		return crypto.SHA384
	case oidEq(oid, oidSHA512):
		return crypto.SHA512
	}
	return 0
}

func malformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

var (
	tag0 = cbasn1.Tag(0).Constructed().ContextSpecific()
	tag1 = cbasn1.Tag(1).Constructed().ContextSpecific()
	tag2 = cbasn1.Tag(2).Constructed().ContextSpecific()
)

// ParseRequest parses a DER OCSPRequest (RFC 6960, section 4.1.1). It accepts
// exactly one Request in requestList with a SHA-1/256/384/512 CertID whose
// hashes have the algorithm's length; the version, if present, must be v1.
// requestorName, optionalSignature (not verified), singleRequestExtensions
// and request extensions other than the nonce are skipped, whatever their
// criticality. Duplicate nonce extensions and trailing data are refused.
// Every error wraps ErrMalformed.
func ParseRequest(der []byte) (*Request, error) {
	in := cryptobyte.String(der)
	var ocspReq, tbs cryptobyte.String
	if !in.ReadASN1(&ocspReq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, malformed("not a single DER SEQUENCE")
	}
	if !ocspReq.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, malformed("tbsRequest")
	}
	if !ocspReq.SkipOptionalASN1(tag0) || !ocspReq.Empty() {
		return nil, malformed("optionalSignature or trailing data")
	}
	var ver cryptobyte.String
	var hasVer bool
	if !tbs.ReadOptionalASN1(&ver, &hasVer, tag0) {
		return nil, malformed("version")
	}
	if hasVer {
		var v int64
		if !ver.ReadASN1Integer(&v) || !ver.Empty() || v != 0 {
			return nil, malformed("version")
		}
	}
	if !tbs.SkipOptionalASN1(tag1) {
		return nil, malformed("requestorName")
	}
	var list cryptobyte.String
	if !tbs.ReadASN1(&list, cbasn1.SEQUENCE) {
		return nil, malformed("requestList")
	}
	var extsWrap cryptobyte.String
	var hasExts bool
	if !tbs.ReadOptionalASN1(&extsWrap, &hasExts, tag2) || !tbs.Empty() {
		return nil, malformed("requestExtensions or trailing data")
	}
	var one cryptobyte.String
	if list.Empty() {
		return nil, malformed("empty requestList")
	}
	if !list.ReadASN1(&one, cbasn1.SEQUENCE) {
		return nil, malformed("Request")
	}
	if !list.Empty() {
		return nil, malformed("more than one Request is not supported")
	}
	var certID cryptobyte.String
	if !one.ReadASN1(&certID, cbasn1.SEQUENCE) || !one.SkipOptionalASN1(tag0) || !one.Empty() {
		return nil, malformed("Request")
	}
	r := &Request{}
	id, err := parseCertID(certID)
	if err != nil {
		return nil, err
	}
	r.Hash, r.NameHash, r.KeyHash, r.Serial = id.hash, id.nameHash, id.keyHash, id.serial
	if hasExts {
		var exts cryptobyte.String
		if !extsWrap.ReadASN1(&exts, cbasn1.SEQUENCE) || !extsWrap.Empty() {
			return nil, malformed("requestExtensions")
		}
		nonce, found, err := findExtension(exts, oidNonce)
		if err != nil {
			return nil, err
		}
		if found {
			r.Nonce = append([]byte{}, nonce...)
		}
	}
	return r, nil
}

// certID is a parsed CertID.
type certID struct {
	hash              crypto.Hash
	nameHash, keyHash []byte
	serial            *big.Int
}

// parseCertID parses the contents of a CertID SEQUENCE.
func parseCertID(s cryptobyte.String) (certID, error) {
	var id certID
	var alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return id, malformed("CertID hashAlgorithm")
	}
	// Parameters: absent or NULL.
	if !alg.Empty() {
		var null cryptobyte.String
		if !alg.ReadASN1(&null, cbasn1.NULL) || !null.Empty() || !alg.Empty() {
			return id, malformed("CertID hashAlgorithm parameters")
		}
	}
	id.hash = hashForOID(oid)
	if id.hash == 0 {
		return id, malformed("unsupported CertID hash algorithm")
	}
	var nh, kh cryptobyte.String
	id.serial = new(big.Int)
	if !s.ReadASN1(&nh, cbasn1.OCTET_STRING) || !s.ReadASN1(&kh, cbasn1.OCTET_STRING) ||
		!s.ReadASN1Integer(id.serial) || !s.Empty() {
		return id, malformed("CertID")
	}
	if len(nh) != id.hash.Size() || len(kh) != id.hash.Size() {
		return id, malformed("CertID hash length does not match its algorithm")
	}
	id.nameHash, id.keyHash = append([]byte{}, nh...), append([]byte{}, kh...)
	return id, nil
}

// findExtension walks the contents of an Extensions SEQUENCE and returns
// the extnValue contents of the extension with the given OID. Two
// extensions with that OID are an error.
func findExtension(exts cryptobyte.String, want asn1.ObjectIdentifier) (value []byte, found bool, err error) {
	for !exts.Empty() {
		var ext, val cryptobyte.String
		var o asn1.ObjectIdentifier
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&o) {
			return nil, false, malformed("extension")
		}
		if ext.PeekASN1Tag(cbasn1.BOOLEAN) {
			var crit bool
			if !ext.ReadASN1Boolean(&crit) {
				return nil, false, malformed("extension critical flag")
			}
		}
		if !ext.ReadASN1(&val, cbasn1.OCTET_STRING) || !ext.Empty() {
			return nil, false, malformed("extension value")
		}
		if oidEq(o, want) {
			if found {
				return nil, false, malformed("duplicate extension")
			}
			value, found = val, true
		}
	}
	return value, found, nil
}
