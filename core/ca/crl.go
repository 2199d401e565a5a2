package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"time"

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
	// DeltaBase, when set, makes a delta CRL (RFC 5280 §5.2.4) against the
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
	info, err := EncodeCRL(ctx, w, t, i.cfg.Certificate, i.cfg.Signer, entries, req.TempDir)
	if err != nil {
		return info, fmt.Errorf("ca: crl: %w", err)
	}
	return info, nil
}

var (
	oidDeltaCRLIndicator = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDP         = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidFreshestCRL       = asn1.ObjectIdentifier{2, 5, 29, 46}
)

// EncodeCRL signs and writes a CRL with the entries entries yields.
// TEMPORARY: in-memory implementation on x509.CreateRevocationList, to be
// replaced by a streaming encoder.
func EncodeCRL(ctx context.Context, w io.Writer, t CRLTemplate, issuer *x509.Certificate, signer crypto.Signer, entries func(yield func(CRLEntry) error) error, tempDir string) (CRLInfo, error) {
	var list []x509.RevocationListEntry
	if err := entries(func(e CRLEntry) error {
		list = append(list, x509.RevocationListEntry{SerialNumber: e.Serial, RevocationTime: e.RevokedAt.UTC(), ReasonCode: e.Reason})
		return nil
	}); err != nil {
		return CRLInfo{}, err
	}
	tmpl := &x509.RevocationList{Number: t.Number, ThisUpdate: t.ThisUpdate, NextUpdate: t.NextUpdate, RevokedCertificateEntries: list}
	if t.DeltaBase != nil {
		v, _ := asn1.Marshal(t.DeltaBase)
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidDeltaCRLIndicator, Critical: true, Value: v})
	}
	if t.DistributionPoint != "" {
		// IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] { fullName [0] GeneralNames } }
		uri := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(t.DistributionPoint)}
		full, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(uri)})
		dp, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: full})
		v, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: dp})
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidIssuingDP, Critical: true, Value: v})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, signer)
	if err != nil {
		return CRLInfo{}, fmt.Errorf("signing: %w", err)
	}
	n, err := w.Write(der)
	return CRLInfo{Number: t.Number, ThisUpdate: t.ThisUpdate, NextUpdate: t.NextUpdate, Entries: int64(len(list)), Bytes: int64(n)}, err
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
