package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/pkid/pkid/sdk"
	"golang.org/x/crypto/ocsp"
)

// OCSP status names (sdk.StatusGood and sdk.StatusRevoked, plus unknown).
const StatusUnknown = "unknown"

// DefaultOCSPValidity is nextUpdate - thisUpdate of OCSP responses (CFSSL's
// -interval default).
const DefaultOCSPValidity = 96 * time.Hour

// OCSPResponder is a delegated OCSP signer: a certificate issued by the CA
// with the OCSP signing usage (and id-pkix-ocsp-nocheck), whose key stays
// in a keystore.
type OCSPResponder struct {
	Certificate *x509.Certificate
	Signer      crypto.Signer
}

// OCSPRequest asks for a signed OCSP response about one certificate.
type OCSPRequest struct {
	// Certificate or Serial names the certificate. A Certificate must have
	// been issued by this CA (name match: 8100; signature: 8200).
	Certificate *x509.Certificate
	Serial      *big.Int
	// Status is sdk.StatusGood (default), sdk.StatusRevoked or
	// StatusUnknown; anything else is 8200.
	Status    string
	Reason    int
	RevokedAt time.Time
	// Hash is the CertID hash (0: SHA-1).
	Hash crypto.Hash
	// Nonce, when set, is echoed in the response's nonce extension.
	Nonce []byte
	// Now (zero: now) and Validity (zero: the CA's, DefaultOCSPValidity):
	// thisUpdate = Now truncated to the hour, nextUpdate = thisUpdate +
	// Validity.
	Now      time.Time
	Validity time.Duration
}

// OCSPResponse is a signed DER OCSP response and its validity.
type OCSPResponse struct {
	DER                    []byte
	ThisUpdate, NextUpdate time.Time
}

// SignOCSP signs an OCSP response with the delegated responder when one is
// configured, else with the CA key.
// TEMPORARY minimal implementation.
func (i *Issuer) SignOCSP(ctx context.Context, req OCSPRequest) (*OCSPResponse, error) {
	now := req.Now
	if now.IsZero() {
		now = i.cfg.Now()
	}
	validity := req.Validity
	if validity <= 0 {
		validity = DefaultOCSPValidity
	}
	serial := req.Serial
	if req.Certificate != nil {
		serial = req.Certificate.SerialNumber
	}
	if serial == nil {
		return nil, errors.New("ca: ocsp: no certificate or serial")
	}
	t := ocsp.Response{SerialNumber: serial, ThisUpdate: now.UTC().Truncate(time.Hour), IssuerHash: req.Hash}
	t.NextUpdate = t.ThisUpdate.Add(validity)
	switch req.Status {
	case "", sdk.StatusGood:
		t.Status = ocsp.Good
	case sdk.StatusRevoked:
		t.Status, t.RevokedAt, t.RevocationReason = ocsp.Revoked, req.RevokedAt.UTC(), req.Reason
	case StatusUnknown:
		t.Status = ocsp.Unknown
	default:
		return nil, fmt.Errorf("ca: ocsp: invalid status %q", req.Status)
	}
	if t.IssuerHash == 0 {
		t.IssuerHash = crypto.SHA1
	}
	der, err := ocsp.CreateResponse(i.cfg.Certificate, i.cfg.Certificate, t, i.cfg.Signer)
	if err != nil {
		return nil, fmt.Errorf("ca: ocsp: %w", err)
	}
	return &OCSPResponse{DER: der, ThisUpdate: t.ThisUpdate, NextUpdate: t.NextUpdate}, nil
}

// OCSPForRecord signs a response carrying a stored record's status.
func (i *Issuer) OCSPForRecord(ctx context.Context, rec *sdk.CertRecord, hash crypto.Hash, nonce []byte) (*OCSPResponse, error) {
	serial, ok := new(big.Int).SetString(rec.Serial, 10)
	if !ok {
		return nil, fmt.Errorf("ca: ocsp: stored serial %q is not decimal", rec.Serial)
	}
	req := OCSPRequest{Serial: serial, Status: rec.Status, Hash: hash, Nonce: nonce}
	if rec.Status == sdk.StatusRevoked {
		req.Reason, req.RevokedAt = rec.RevocationReason, rec.RevokedAt
	}
	return i.SignOCSP(ctx, req)
}

// MatchesCertID reports whether an OCSP CertID's issuer name and key
// hashes (computed with h) name this CA.
func (i *Issuer) MatchesCertID(h crypto.Hash, nameHash, keyHash []byte) bool {
	return false // TEMPORARY
}

// RefreshRequest asks RefreshOCSP to pre-sign responses.
type RefreshRequest struct {
	// Store holds the certificates and receives the responses; nil means
	// the CA's certstore.
	Store sdk.CertStore
	// Within: re-sign a stored response whose nextUpdate is less than
	// Within away (default: half the validity). Missing responses are
	// always signed.
	Within   time.Duration
	Validity time.Duration // default the CA's
	Now      time.Time
	// Progress, when set, is called now and then with the running totals.
	Progress func(RefreshResult)
}

// RefreshResult counts what RefreshOCSP did.
type RefreshResult struct {
	Checked, Signed, Fresh int
}

// RefreshOCSP pre-signs OCSP responses (SHA-1 CertIDs, RFC 5019) for the
// CA's unexpired certificates whose stored response is missing or expiring.
func (i *Issuer) RefreshOCSP(ctx context.Context, req RefreshRequest) (RefreshResult, error) {
	return RefreshResult{}, errors.New("ca: ocsp refresh: not implemented yet")
}
