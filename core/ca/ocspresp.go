package ca

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// OCSP response encoder (RFC 6960, section 4.2.1). golang.org/x/crypto/ocsp cannot
// write responseExtensions (its ExtraExtensions land in singleExtensions),
// which the nonce needs, so every response pkid signs is built here: one
// encoder, one signature per response.

var (
	oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
)

// ocspHashOIDs are the CertID hash algorithms pkid answers for.
var ocspHashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA1:   {1, 3, 14, 3, 2, 26},
	crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
}

// ocspSigAlgs maps the signature algorithms DefaultSignatureAlgorithm picks
// to their AlgorithmIdentifier OID, whether the parameters are NULL (RSA,
// RFC 4055) or absent (ECDSA, Ed25519), and the digest signed.
var ocspSigAlgs = map[x509.SignatureAlgorithm]struct {
	oid       asn1.ObjectIdentifier
	nullParam bool
	hash      crypto.Hash
}{
	x509.SHA256WithRSA:   {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, true, crypto.SHA256},
	x509.SHA384WithRSA:   {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}, true, crypto.SHA384},
	x509.SHA512WithRSA:   {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}, true, crypto.SHA512},
	x509.ECDSAWithSHA256: {asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, false, crypto.SHA256},
	x509.ECDSAWithSHA384: {asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, false, crypto.SHA384},
	x509.ECDSAWithSHA512: {asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, false, crypto.SHA512},
	x509.PureEd25519:     {asn1.ObjectIdentifier{1, 3, 101, 112}, false, 0},
}

// ocspSingle is the content of the one SingleResponse.
type ocspSingle struct {
	hash                   crypto.Hash // CertID hash
	nameHash, keyHash      []byte
	serial                 *big.Int
	status                 int // 0 good, 1 revoked, 2 unknown (ocsp.Good...)
	revokedAt              time.Time
	reason                 int // written when revoked and not 0 (unspecified)
	thisUpdate, nextUpdate time.Time
}

// ocspSigner is who signs: the responder name (its certificate's RawSubject
// becomes ResponderID byName), the certificate to embed (nil: none) and
// the key.
type ocspSigner struct {
	rawSubject []byte
	include    *x509.Certificate
	signer     crypto.Signer
	alg        x509.SignatureAlgorithm
}

// encodeOCSPResponse builds and signs a successful OCSPResponse holding a
// BasicOCSPResponse with one SingleResponse. nonce, when non-nil, is the
// raw extnValue contents of the nonce extension written (non-critical) in
// responseExtensions. The signer is called exactly once.
func encodeOCSPResponse(s ocspSigner, rnd io.Reader, producedAt time.Time, single ocspSingle, nonce []byte) ([]byte, error) {
	alg, ok := ocspSigAlgs[s.alg]
	if !ok {
		return nil, fmt.Errorf("unsupported signature algorithm %v", s.alg)
	}
	hashOID, ok := ocspHashOIDs[single.hash]
	if !ok {
		return nil, fmt.Errorf("unsupported CertID hash %v", single.hash)
	}
	if single.serial == nil {
		return nil, errors.New("no serial number")
	}

	// ResponseData ::= SEQUENCE { version [0] DEFAULT v1 (omitted),
	//   responderID, producedAt, responses, responseExtensions [1] OPTIONAL }
	var tb cryptobyte.Builder
	tb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		// ResponderID byName [1] EXPLICIT Name.
		b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddBytes(s.rawSubject)
		})
		b.AddASN1GeneralizedTime(producedAt.UTC())
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // responses
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SingleResponse
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // CertID
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(hashOID)
						b.AddASN1NULL()
					})
					b.AddASN1OctetString(single.nameHash)
					b.AddASN1OctetString(single.keyHash)
					b.AddASN1BigInt(single.serial)
				})
				switch single.status {
				case 0: // good [0] IMPLICIT NULL
					b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(*cryptobyte.Builder) {})
				case 1: // revoked [1] IMPLICIT RevokedInfo
					b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						b.AddASN1GeneralizedTime(single.revokedAt.UTC())
						if single.reason != 0 {
							b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
								b.AddASN1Enum(int64(single.reason))
							})
						}
					})
				default: // unknown [2] IMPLICIT NULL
					b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(*cryptobyte.Builder) {})
				}
				b.AddASN1GeneralizedTime(single.thisUpdate.UTC())
				if !single.nextUpdate.IsZero() {
					b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						b.AddASN1GeneralizedTime(single.nextUpdate.UTC())
					})
				}
			})
		})
		if nonce != nil {
			b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Extensions
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Extension
						b.AddASN1ObjectIdentifier(oidOCSPNonce)
						b.AddASN1OctetString(nonce)
					})
				})
			})
		}
	})
	tbs, err := tb.Bytes()
	if err != nil {
		return nil, err
	}

	signed, opts := tbs, crypto.SignerOpts(alg.hash)
	if alg.hash != 0 {
		h := alg.hash.New()
		h.Write(tbs)
		signed = h.Sum(nil)
	}
	sig, err := s.signer.Sign(rnd, signed, opts)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}

	var bb cryptobyte.Builder
	bb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // BasicOCSPResponse
		b.AddBytes(tbs)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(alg.oid)
			if alg.nullParam {
				b.AddASN1NULL()
			}
		})
		b.AddASN1BitString(sig)
		if s.include != nil {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(s.include.Raw) })
			})
		}
	})
	basic, err := bb.Bytes()
	if err != nil {
		return nil, err
	}

	var rb cryptobyte.Builder
	rb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // OCSPResponse
		b.AddASN1Enum(0) // successful
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ResponseBytes
				b.AddASN1ObjectIdentifier(oidOCSPBasic)
				b.AddASN1OctetString(basic)
			})
		})
	})
	return rb.Bytes()
}
