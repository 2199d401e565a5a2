package ca

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/pkid/pkid/sdk"
)

// CRLRequest asks for a CRL of this issuer: a full CRL, or a delta CRL when
// DeltaBase is set.
type CRLRequest struct {
	// Store holds the revocations; nil means the CA's own certstore.
	Store sdk.CertStore
	// Validity is the time to NextUpdate (default 7 days, CFSSL's).
	Validity time.Duration
	Now      time.Time // zero: now
	// Number is the CRL number; nil: Now in nanoseconds since the epoch,
	// which increases monotonically without shared state, across nodes.
	Number *big.Int
	// DeltaBase, when set, makes a delta CRL (RFC 5280, section 5.2.4) against the
	// full CRL with this number; it lists certificates revoked at or after
	// DeltaSince (the base CRL's thisUpdate, less a margin).
	DeltaBase  *big.Int
	DeltaSince time.Time
	// DistributionPoint, when set, is written as a critical issuing
	// distribution point (fullName URI); use the same one for a full CRL
	// and its deltas.
	DistributionPoint string
	// FreshestCRL, when set on a full CRL, names the delta CRL's URL.
	FreshestCRL string
	// TempDir holds the spill file of large CRLs ("": os.TempDir()).
	TempDir string
}

// CRLInfo describes a CRL that was written.
type CRLInfo struct {
	Number                 *big.Int
	ThisUpdate, NextUpdate time.Time
	Entries                int64
	Bytes                  int64
}

// CRLEntry is one revoked certificate.
type CRLEntry struct {
	Serial    *big.Int
	RevokedAt time.Time
	Reason    int // RFC 5280 CRLReason; 0 (unspecified) is not written
}

// CRLTemplate is what EncodeCRL writes besides the entries.
type CRLTemplate struct {
	Number                 *big.Int
	ThisUpdate, NextUpdate time.Time
	DeltaBase              *big.Int // nil: a full CRL
	DistributionPoint      string
	FreshestCRL            string
}

// CRL builds and signs (through the CA's keystore) a CRL listing the
// issuer's revoked certificates that have not yet expired, with their
// revocation time and reason. It holds the whole DER in memory; WriteCRL
// streams.
func (i *Issuer) CRL(ctx context.Context, req CRLRequest) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := i.WriteCRL(ctx, &buf, req); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteCRL writes the CRL described by req to w as DER.
func (i *Issuer) WriteCRL(ctx context.Context, w io.Writer, req CRLRequest) (CRLInfo, error) {
	if req.Store == nil {
		req.Store = i.cfg.Store
	}
	if req.Store == nil {
		return CRLInfo{}, fmt.Errorf("ca: crl: the CA %q has no certstore", i.cfg.Label)
	}
	now := req.Now
	if now.IsZero() {
		now = i.cfg.Now()
	}
	now = now.UTC()
	validity := req.Validity
	if validity <= 0 {
		validity = 7 * 24 * time.Hour
	}
	t := CRLTemplate{Number: req.Number, ThisUpdate: now, NextUpdate: now.Add(validity),
		DeltaBase: req.DeltaBase, DistributionPoint: req.DistributionPoint, FreshestCRL: req.FreshestCRL}
	if t.Number == nil {
		t.Number = big.NewInt(now.UnixNano())
	}
	if i.cfg.Certificate.NotAfter.Before(t.NextUpdate) {
		t.NextUpdate = i.cfg.Certificate.NotAfter
	}
	entries := func(yield func(CRLEntry) error) error {
		err := req.Store.List(ctx, sdk.ListFilter{IssuerLabel: i.cfg.Label, Status: sdk.StatusRevoked, ExpiresAfter: now},
			func(r *sdk.CertRecord) error {
				if req.DeltaBase != nil && r.RevokedAt.Before(req.DeltaSince) {
					return nil
				}
				serial, ok := new(big.Int).SetString(r.Serial, 10)
				if !ok {
					return fmt.Errorf("stored serial %q is not decimal", r.Serial)
				}
				return yield(CRLEntry{Serial: serial, RevokedAt: r.RevokedAt, Reason: r.RevocationReason})
			})
		if err != nil {
			return fmt.Errorf("listing revoked certificates: %w", err)
		}
		return nil
	}
	info, err := EncodeCRL(ctx, w, EncodeCRLRequest{Template: t, Issuer: i.cfg.Certificate, Signer: i.cfg.Signer, Entries: entries, TempDir: req.TempDir})
	if err != nil {
		return info, fmt.Errorf("ca: crl: %w", err)
	}
	return info, nil
}

var (
	oidAuthorityKeyID    = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidCRLNumber         = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidReasonCode        = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidDeltaCRLIndicator = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDP         = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidFreshestCRL       = asn1.ObjectIdentifier{2, 5, 29, 46}
)

// crlCtxCheckEvery is how many entries EncodeCRL encodes between checks of
// its context.
const crlCtxCheckEvery = 4096

// EncodeCRLRequest is what EncodeCRL signs and writes.
type EncodeCRLRequest struct {
	Template CRLTemplate
	// Issuer is the CA certificate (parsed from DER) whose key Signer
	// holds.
	Issuer *x509.Certificate
	Signer crypto.Signer
	// Entries yields the revoked certificates in any order.
	Entries func(yield func(CRLEntry) error) error
	// TempDir receives the spill file ("": os.TempDir()).
	TempDir string
}

// EncodeCRL signs and writes to w a v2 CRL (RFC 5280, section 5) of req.Issuer
// with the entries req.Entries yields, streaming: each revokedCertificates
// entry is DER-encoded into a buffered spill file in req.TempDir,
// removed before EncodeCRL returns, even on error; the TBSCertList is then
// hashed from its header, the spill file and the extensions, the digest
// signed with signer, and the CRL written while the spill file is read
// again. Memory stays bounded whatever the number of entries, except for
// Ed25519 keys (see below).
//
// The signature algorithm is DefaultSignatureAlgorithm's for the signer's
// key. Entries with Reason 0 (unspecified) carry no reasonCode extension;
// a Reason outside RFC 5280's CRLReason values is an error, as is a nil
// serial. The context is checked every few thousand entries. CRLInfo holds
// the number of entries and the bytes written (also on a failed write).
func EncodeCRL(ctx context.Context, w io.Writer, req EncodeCRLRequest) (info CRLInfo, err error) {
	t, issuer, entries, tempDir := req.Template, req.Issuer, req.Entries, req.TempDir
	signer := signerFor(ctx, req.Signer)
	info = CRLInfo{Number: t.Number, ThisUpdate: t.ThisUpdate, NextUpdate: t.NextUpdate}
	if issuer == nil || signer == nil {
		return info, errors.New("an issuer certificate and a signer are required")
	}
	if len(issuer.RawSubject) == 0 {
		return info, errors.New("the issuer certificate has no raw subject (not parsed from DER?)")
	}
	if issuer.KeyUsage != 0 && issuer.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return info, errors.New("the issuer certificate lacks the cRLSign key usage")
	}
	if !publicKeysEqual(issuer.PublicKey, signer.Public()) {
		return info, errors.New("the signer's key does not match the issuer certificate")
	}
	if !t.NextUpdate.Truncate(time.Second).After(t.ThisUpdate.Truncate(time.Second)) { // as encoded
		return info, fmt.Errorf("nextUpdate %s is not after thisUpdate %s", t.NextUpdate.UTC().Format(time.RFC3339), t.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if err := checkCRLNumber("CRL number", t.Number); err != nil {
		return info, err
	}
	if t.DeltaBase != nil {
		if err := checkCRLNumber("delta CRL base number", t.DeltaBase); err != nil {
			return info, err
		}
	}
	alg, err := crlSignatureAlgorithm(signer.Public())
	if err != nil {
		return info, err
	}
	// The fixed parts of the TBSCertList: what precedes the entries
	// (version, signature, issuer, thisUpdate, nextUpdate) and what follows
	// them (crlExtensions).
	pre := cryptobyte.NewBuilder(nil)
	pre.AddASN1Int64(1) // v2
	pre.AddBytes(alg.der)
	pre.AddBytes(issuer.RawSubject)
	addCRLTime(pre, t.ThisUpdate)
	addCRLTime(pre, t.NextUpdate)
	prefix, err := pre.Bytes()
	if err != nil {
		return info, fmt.Errorf("encoding the CRL header: %w", err)
	}
	exts, err := crlExtensions(t, issuer.SubjectKeyId)
	if err != nil {
		return info, fmt.Errorf("encoding the CRL extensions: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return info, err
	}

	f, err := os.CreateTemp(tempDir, "pkid-crl-*.spill")
	if err != nil {
		return info, fmt.Errorf("creating the spill file: %w", err)
	}
	defer func() {
		f.Close()
		if rerr := os.Remove(f.Name()); rerr != nil && err == nil {
			err = fmt.Errorf("removing the spill file: %w", rerr)
		}
	}()
	spill := bufio.NewWriterSize(f, 256<<10)
	var n, entriesLen int64
	var scratch []byte // one entry's DER, reused: no per-entry heap objects are kept
	err = entries(func(e CRLEntry) error {
		if n%crlCtxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		der, err := appendCRLEntry(scratch[:0], e)
		if err != nil {
			return fmt.Errorf("entry %d: %w", n, err)
		}
		scratch = der
		if _, err := spill.Write(der); err != nil {
			return fmt.Errorf("writing the spill file: %w", err)
		}
		n++
		entriesLen += int64(len(der))
		return nil
	})
	info.Entries = n
	if err != nil {
		return info, err
	}
	if err := ctx.Err(); err != nil {
		return info, err
	}
	if err := spill.Flush(); err != nil {
		return info, fmt.Errorf("writing the spill file: %w", err)
	}

	// revokedCertificates is omitted when empty (RFC 5280, section 5.1.2.6).
	var revHdr []byte
	if n > 0 {
		revHdr = appendDERHeader(nil, 0x30, entriesLen)
	}
	tbsLen := int64(len(prefix)) + int64(len(revHdr)) + entriesLen + int64(len(exts))
	tbsHdr := appendDERHeader(nil, 0x30, tbsLen)
	writeTBS := func(w io.Writer) error {
		if err := writeAll(w, tbsHdr, prefix, revHdr); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewinding the spill file: %w", err)
		}
		if c, err := io.CopyN(w, f, entriesLen); err != nil {
			return fmt.Errorf("reading the spill file (%d of %d bytes): %w", c, entriesLen, err)
		}
		_, err := w.Write(exts)
		return err
	}

	var sig []byte
	if alg.hash == 0 {
		// Ed25519 signs the message itself, not a digest (and crypto.Signer
		// offers no streaming Ed25519ph here): the whole TBSCertList is
		// buffered in memory, about 40-60 bytes per entry, so memory is NOT
		// bounded for Ed25519 CAs (1,000,000 entries ≈ 50 MB).
		tbs := bytes.NewBuffer(make([]byte, 0, int(int64(len(tbsHdr))+tbsLen)))
		if err := writeTBS(tbs); err != nil {
			return info, err
		}
		if sig, err = signer.Sign(rand.Reader, tbs.Bytes(), crypto.Hash(0)); err != nil {
			return info, fmt.Errorf("signing: %w", err)
		}
		if pub, ok := signer.Public().(ed25519.PublicKey); !ok || !ed25519.Verify(pub, tbs.Bytes(), sig) {
			return info, errors.New("signing: the signer returned a signature that does not verify")
		}
	} else {
		h := alg.hash.New()
		if err := writeTBS(h); err != nil {
			return info, err
		}
		digest := h.Sum(nil)
		if sig, err = signer.Sign(rand.Reader, digest, alg.hash); err != nil {
			return info, fmt.Errorf("signing: %w", err)
		}
		if !verifyDigest(signer.Public(), alg.hash, digest, sig) {
			return info, errors.New("signing: the signer returned a signature that does not verify")
		}
	}
	if err := ctx.Err(); err != nil {
		return info, err
	}

	sb := cryptobyte.NewBuilder(nil)
	sb.AddASN1BitString(sig)
	sigBits, err := sb.Bytes()
	if err != nil {
		return info, err
	}
	outerLen := int64(len(tbsHdr)) + tbsLen + int64(len(alg.der)) + int64(len(sigBits))
	cw := &countingWriter{w: w}
	out := bufio.NewWriterSize(cw, 64<<10)
	err = writeAll(out, appendDERHeader(nil, 0x30, outerLen))
	if err == nil {
		err = writeTBS(out)
	}
	if err == nil {
		err = writeAll(out, alg.der, sigBits)
	}
	if err == nil {
		err = out.Flush()
	}
	info.Bytes = cw.n
	if err != nil {
		return info, fmt.Errorf("writing the CRL: %w", err)
	}
	return info, nil
}

// crlSigAlg is a signature algorithm's AlgorithmIdentifier DER and its hash
// (0 for Ed25519, which signs the message).
type crlSigAlg struct {
	der  []byte
	hash crypto.Hash
}

// crlSignatureAlgorithm maps DefaultSignatureAlgorithm's choice to its
// AlgorithmIdentifier (RFC 5758, RFC 4055, RFC 8410). DefaultSignatureAlgorithm
// never picks RSA-PSS, so PSS is not encoded here.
func crlSignatureAlgorithm(pub crypto.PublicKey) (crlSigAlg, error) {
	alg, err := DefaultSignatureAlgorithm(pub)
	if err != nil {
		return crlSigAlg{}, err
	}
	var (
		oid  asn1.ObjectIdentifier
		null bool // RSA PKCS#1 v1.5 has NULL parameters
		h    crypto.Hash
	)
	switch alg {
	case x509.ECDSAWithSHA256:
		oid, h = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, crypto.SHA256
	case x509.ECDSAWithSHA384:
		oid, h = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, crypto.SHA384
	case x509.ECDSAWithSHA512:
		oid, h = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, crypto.SHA512
	case x509.SHA256WithRSA:
		oid, h, null = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, crypto.SHA256, true
	case x509.SHA384WithRSA:
		oid, h, null = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}, crypto.SHA384, true
	case x509.SHA512WithRSA:
		oid, h, null = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}, crypto.SHA512, true
	case x509.PureEd25519:
		oid = asn1.ObjectIdentifier{1, 3, 101, 112}
	default:
		return crlSigAlg{}, fmt.Errorf("signature algorithm %v is not supported for CRLs", alg)
	}
	if h != 0 && !h.Available() {
		return crlSigAlg{}, fmt.Errorf("hash %v is not available", h)
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if null {
			b.AddASN1NULL()
		}
	})
	der, err := b.Bytes()
	return crlSigAlg{der: der, hash: h}, err
}

// verifyDigest checks sig over digest: a faulty keystore must not publish
// a CRL nobody can verify.
func verifyDigest(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
	}
	return false
}

// checkCRLNumber enforces RFC 5280, section 5.2.3: a non-negative integer of at
// most 20 octets.
func checkCRLNumber(what string, n *big.Int) error {
	switch {
	case n == nil:
		return fmt.Errorf("%s is required", what)
	case n.Sign() < 0:
		return fmt.Errorf("%s %s is negative", what, n)
	case n.BitLen() > 159: // 20 octets with the sign bit clear
		return fmt.Errorf("%s exceeds 20 octets", what)
	}
	return nil
}

// addCRLTime writes a Time: UTCTime through 2049, GeneralizedTime from 2050
// (and before 1950), in UTC, to the second (RFC 5280, section 5.1.2.4).
func addCRLTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC()
	if y := t.Year(); y >= 1950 && y < 2050 {
		b.AddASN1UTCTime(t)
	} else {
		b.AddASN1GeneralizedTime(t)
	}
}

// addExtension writes an Extension whose extnValue value writes.
func addExtension(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, critical bool, value cryptobyte.BuilderContinuation) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1(cbasn1.OCTET_STRING, value)
	})
}

// addFullNameURI writes DistributionPointName's fullName [0] with one
// uniformResourceIdentifier, inside distributionPoint [0] (both explicit,
// as a CHOICE is).
func addFullNameURI(b *cryptobyte.Builder, uri string) {
	b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddBytes([]byte(uri))
			})
		})
	})
}

// crlExtensions encodes crlExtensions [0] EXPLICIT Extensions.
func crlExtensions(t CRLTemplate, ski []byte) ([]byte, error) {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if len(ski) > 0 {
				// AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
				addExtension(b, oidAuthorityKeyID, false, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(ski) })
					})
				})
			}
			addExtension(b, oidCRLNumber, false, func(b *cryptobyte.Builder) { b.AddASN1BigInt(t.Number) })
			if t.DeltaBase != nil {
				addExtension(b, oidDeltaCRLIndicator, true, func(b *cryptobyte.Builder) { b.AddASN1BigInt(t.DeltaBase) })
			}
			if t.DistributionPoint != "" {
				// IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] { fullName [0] GeneralNames } }
				addExtension(b, oidIssuingDP, true, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { addFullNameURI(b, t.DistributionPoint) })
				})
			}
			if t.FreshestCRL != "" && t.DeltaBase == nil {
				// FreshestCRL ::= CRLDistributionPoints ::= SEQUENCE OF DistributionPoint
				addExtension(b, oidFreshestCRL, false, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { addFullNameURI(b, t.FreshestCRL) })
					})
				})
			}
		})
	})
	return b.Bytes()
}

// crlReasonExts holds, by CRLReason, the crlEntryExtensions carrying it:
// SEQUENCE { Extension { reasonCode, OCTET STRING { ENUMERATED } } }, nil
// for 0 (unspecified, not written) and 7 (unused).
var crlReasonExts = func() (exts [11][]byte) {
	for r := range exts {
		if r == 0 || r == 7 {
			continue
		}
		b := cryptobyte.NewBuilder(nil)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addExtension(b, oidReasonCode, false, func(b *cryptobyte.Builder) { b.AddASN1Enum(int64(r)) })
		})
		exts[r] = b.BytesOrPanic()
	}
	return exts
}()

const (
	utcTimeLayout         = "060102150405Z0700" // as cryptobyte's
	generalizedTimeLayout = "20060102150405Z0700"
)

// appendCRLEntry appends one revokedCertificates entry to dst:
// SEQUENCE { userCertificate INTEGER, revocationDate Time,
// crlEntryExtensions OPTIONAL }. It is assembled in dst from parts of known
// length so that an entry costs no heap allocation (with a non-negative
// serial of at most 126 octets; others go through cryptobyte); the
// reasonCode extensions are precomputed.
func appendCRLEntry(dst []byte, e CRLEntry) ([]byte, error) {
	if e.Serial == nil {
		return nil, errors.New("no serial number")
	}
	if e.Reason < 0 || e.Reason >= len(crlReasonExts) || e.Reason == 7 {
		return nil, fmt.Errorf("serial %s: %d is not a CRLReason", e.Serial, e.Reason)
	}
	var (
		serialDER []byte // set for serials off the fast path
		serialLen int    // content octets of the INTEGER, fast path
	)
	if e.Serial.Sign() >= 0 && e.Serial.BitLen() <= 8*126 {
		serialLen = (e.Serial.BitLen() + 7) / 8
		if serialLen == 0 || e.Serial.Bit(serialLen*8-1) == 1 {
			serialLen++ // 0, or a leading 0x00 to keep it positive
		}
	} else {
		b := cryptobyte.NewBuilder(nil)
		b.AddASN1BigInt(e.Serial)
		var err error
		if serialDER, err = b.Bytes(); err != nil {
			return nil, fmt.Errorf("serial %s: %w", e.Serial, err)
		}
	}
	t := e.RevokedAt.UTC()
	timeTag, layout, timeLen := byte(cbasn1.UTCTime), utcTimeLayout, 13
	switch y := t.Year(); {
	case y < 0 || y > 9999:
		return nil, fmt.Errorf("serial %s: revocation time %v cannot be encoded", e.Serial, t)
	case y < 1950 || y >= 2050:
		timeTag, layout, timeLen = byte(cbasn1.GeneralizedTime), generalizedTimeLayout, 15
	}
	ext := crlReasonExts[e.Reason]
	bodyLen := 2 + timeLen + len(ext)
	if serialDER != nil {
		bodyLen += len(serialDER)
	} else {
		bodyLen += 2 + serialLen
	}
	start := len(dst)
	dst = appendDERHeader(dst, 0x30, int64(bodyLen))
	bodyStart := len(dst)
	if serialDER != nil {
		dst = append(dst, serialDER...)
	} else {
		dst = append(dst, byte(cbasn1.INTEGER), byte(serialLen))
		n := len(dst)
		dst = append(dst, make([]byte, serialLen)...) // no allocation: append grows dst
		e.Serial.FillBytes(dst[n:])
	}
	dst = append(dst, timeTag, byte(timeLen))
	n := len(dst)
	dst = t.AppendFormat(dst, layout)
	if len(dst)-n != timeLen {
		return nil, fmt.Errorf("serial %s: revocation time %v cannot be encoded", e.Serial, t)
	}
	dst = append(dst, ext...)
	if len(dst)-bodyStart != bodyLen {
		return nil, fmt.Errorf("serial %s: internal error: entry of %d octets, expected %d", e.Serial, len(dst)-start, bodyLen)
	}
	return dst, nil
}

// appendDERHeader appends a DER tag and definite length n.
func appendDERHeader(dst []byte, tag byte, n int64) []byte {
	dst = append(dst, tag)
	if n < 0x80 {
		return append(dst, byte(n))
	}
	k := 0
	for v := n; v > 0; v >>= 8 {
		k++
	}
	dst = append(dst, 0x80|byte(k))
	for i := k - 1; i >= 0; i-- {
		dst = append(dst, byte(n>>(8*i)))
	}
	return dst
}

func writeAll(w io.Writer, parts ...[]byte) error {
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// SerialsCRL signs a CRL listing serials, all revoked now (reason
// unspecified), valid for validity: CFSSL's gencrl, for a CA key held by
// the caller.
func SerialsCRL(ctx context.Context, issuer *x509.Certificate, signer crypto.Signer, serials []*big.Int, validity time.Duration) ([]byte, error) {
	now := time.Now().UTC()
	t := CRLTemplate{Number: big.NewInt(now.UnixNano()), ThisUpdate: now, NextUpdate: now.Add(validity)}
	entries := func(yield func(CRLEntry) error) error {
		for _, sn := range serials {
			if err := yield(CRLEntry{Serial: sn, RevokedAt: now}); err != nil {
				return err
			}
		}
		return nil
	}
	var buf bytes.Buffer
	if _, err := EncodeCRL(ctx, &buf, EncodeCRLRequest{Template: t, Issuer: issuer, Signer: signer, Entries: entries}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
