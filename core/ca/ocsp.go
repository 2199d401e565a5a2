package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

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
	// Nonce, when non-nil, is echoed in the response's nonce extension
	// (id-pkix-ocsp-nonce, in responseExtensions): it is the raw extnValue
	// contents of the request's nonce extension (typically the DER of an
	// OCTET STRING), written back unchanged.
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

// OCSP error codes (CFSSL's OCSPError category): a certificate from
// another CA, and an invalid request (bad certificate signature, status,
// reason or hash).
const (
	CodeOCSPForeign = 8100
	CodeOCSPInvalid = 8200
)

// SignOCSP signs an RFC 6960 response about one certificate with the
// delegated responder when one is configured (its certificate is included
// in the response unless it is the CA certificate itself), else with the CA
// key (no certificates included). The ResponderID is by name. The response
// holds one SingleResponse: CertID hashed with req.Hash, the status (with
// time and reason when revoked; reason 0 is not written), thisUpdate = Now
// truncated to the hour, nextUpdate = thisUpdate + validity; producedAt is
// Now truncated to the minute. When req.Nonce is non-nil, responseExtensions
// carries the nonce extension with req.Nonce as its extnValue contents.
// The signer is called once per response.
//
// Errors: *Error CodeOCSPForeign (8100: req.Certificate's issuer name is
// not the CA's subject), CodeOCSPInvalid (8200: its signature does not
// verify against the CA, unknown status, invalid revocation reason, no
// serial, unsupported hash); otherwise a configuration problem of the
// delegated responder, a signing failure (wrapped) or ctx's error.
func (i *Issuer) SignOCSP(ctx context.Context, req OCSPRequest) (*OCSPResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := i.ocspState()
	if st.err != nil {
		return nil, st.err
	}
	caCert := i.cfg.Certificate
	serial := req.Serial
	if c := req.Certificate; c != nil {
		if !bytes.Equal(c.RawIssuer, caCert.RawSubject) {
			return nil, errorf(CodeOCSPForeign, nil, "certificate not issued by this CA")
		}
		if err := c.CheckSignatureFrom(caCert); err != nil {
			return nil, errorf(CodeOCSPInvalid, err, "the certificate's signature does not verify against this CA")
		}
		serial = c.SerialNumber
	}
	if serial == nil {
		return nil, errorf(CodeOCSPInvalid, nil, "no certificate or serial number")
	}
	now := req.Now
	if now.IsZero() {
		now = i.cfg.Now()
	}
	now = now.UTC()
	validity := req.Validity
	if validity <= 0 {
		validity = i.cfg.OCSPValidity
	}
	if validity <= 0 {
		validity = DefaultOCSPValidity
	}
	hash := req.Hash
	if hash == 0 {
		hash = crypto.SHA1
	}
	if _, ok := ocspHashOIDs[hash]; !ok {
		return nil, errorf(CodeOCSPInvalid, nil, "unsupported CertID hash %v", hash)
	}
	single := ocspSingle{
		hash: hash, nameHash: st.nameHash[hash], keyHash: st.keyHash[hash], serial: serial,
		thisUpdate: now.Truncate(time.Hour),
	}
	single.nextUpdate = single.thisUpdate.Add(validity)
	switch req.Status {
	case "", sdk.StatusGood:
		single.status = ocsp.Good
	case sdk.StatusRevoked:
		if !sdk.ValidReason(req.Reason) {
			return nil, errorf(CodeOCSPInvalid, nil, "invalid revocation reason %d", req.Reason)
		}
		single.status, single.reason, single.revokedAt = ocsp.Revoked, req.Reason, req.RevokedAt
		if single.revokedAt.IsZero() {
			single.revokedAt = now
		}
	case StatusUnknown:
		single.status = ocsp.Unknown
	default:
		return nil, errorf(CodeOCSPInvalid, nil, "invalid status %q", req.Status)
	}
	signer := st.signer
	signer.signer = signerFor(ctx, signer.signer)
	der, err := encodeOCSPResponse(signer, i.cfg.Rand, now.Truncate(time.Minute), single, req.Nonce)
	if err != nil {
		return nil, fmt.Errorf("ca: ocsp: %w", err)
	}
	return &OCSPResponse{DER: der, ThisUpdate: single.thisUpdate, NextUpdate: single.nextUpdate}, nil
}

// ocspInfo is what every OCSP response of one issuer shares, prepared once
// (it is on the responder's hot path).
type ocspInfo struct {
	nameHash, keyHash map[crypto.Hash][]byte // by CertID hash
	aki               string                 // the CA's SubjectKeyId, lowercase hex
	signer            ocspSigner
	err               error // unusable delegated responder
}

// ocspState returns the issuer's OCSP data, prepared on first use.
func (i *Issuer) ocspState() *ocspInfo {
	i.ocspOnce.Do(func() { i.ocsp = i.prepareOCSP() })
	return &i.ocsp
}

func (i *Issuer) prepareOCSP() ocspInfo {
	caCert := i.cfg.Certificate
	info := ocspInfo{
		nameHash: map[crypto.Hash][]byte{}, keyHash: map[crypto.Hash][]byte{},
		aki:    hex.EncodeToString(caCert.SubjectKeyId),
		signer: ocspSigner{rawSubject: caCert.RawSubject, signer: i.cfg.Signer, alg: i.sigAlg},
	}
	keyBits, err := subjectPublicKeyBits(caCert.RawSubjectPublicKeyInfo)
	if err != nil {
		info.err = fmt.Errorf("ca: ocsp: the CA certificate's public key: %w", err)
		return info
	}
	for h := range ocspHashOIDs {
		n, k := h.New(), h.New()
		n.Write(caCert.RawSubject)
		k.Write(keyBits)
		info.nameHash[h], info.keyHash[h] = n.Sum(nil), k.Sum(nil)
	}
	if r := i.cfg.OCSPResponder; r != nil {
		if r.Certificate == nil || r.Signer == nil {
			info.err = errors.New("ca: ocsp: the delegated responder needs a certificate and a signer")
			return info
		}
		if !publicKeysEqual(r.Certificate.PublicKey, r.Signer.Public()) {
			info.err = errorf(CodeKeyMismatch, nil, "the OCSP responder key does not match the responder certificate %q", r.Certificate.Subject.CommonName)
			return info
		}
		alg, err := DefaultSignatureAlgorithm(r.Signer.Public())
		if err != nil {
			info.err = fmt.Errorf("ca: ocsp: responder key: %w", err)
			return info
		}
		info.signer = ocspSigner{rawSubject: r.Certificate.RawSubject, signer: r.Signer, alg: alg}
		if !bytes.Equal(r.Certificate.Raw, caCert.Raw) {
			// RFC 6960, section 4.2.2.2: issued directly by the CA, with OCSPSigning.
			if err := r.Certificate.CheckSignatureFrom(caCert); err != nil {
				info.err = fmt.Errorf("ca: ocsp: the responder certificate %q is not issued by this CA: %w", r.Certificate.Subject.CommonName, err)
				return info
			}
			if !slices.Contains(r.Certificate.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
				info.err = fmt.Errorf("ca: ocsp: the responder certificate %q lacks the OCSP signing usage", r.Certificate.Subject.CommonName)
				return info
			}
			info.signer.include = r.Certificate
		}
	}
	return info
}

// subjectPublicKeyBits returns the subjectPublicKey BIT STRING contents of
// a SubjectPublicKeyInfo (what an OCSP CertID's issuerKeyHash hashes).
func subjectPublicKeyBits(spki []byte) ([]byte, error) {
	in := cryptobyte.String(spki)
	var seq cryptobyte.String
	var bits asn1.BitString
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.SkipASN1(cbasn1.SEQUENCE) || !seq.ReadASN1BitString(&bits) {
		return nil, errors.New("malformed SubjectPublicKeyInfo")
	}
	return bits.Bytes, nil
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
// hashes (computed with h: SHA-1, SHA-256, SHA-384 or SHA-512) name this
// CA: nameHash must be h(the CA certificate's subject) and keyHash
// h(its subjectPublicKey BIT STRING contents); both must match. The hashes
// are computed once per Issuer.
func (i *Issuer) MatchesCertID(h crypto.Hash, nameHash, keyHash []byte) bool {
	st := i.ocspState()
	n, ok := st.nameHash[h]
	return ok && bytes.Equal(n, nameHash) && bytes.Equal(st.keyHash[h], keyHash)
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
	// Checked counts this CA's unexpired certificates examined: Signed
	// got a new response, Fresh kept theirs.
	Checked, Signed, Fresh int
	// Skipped counts records listed under the CA's label whose AKI is not
	// this CA's subject key identifier (docs/differences-from-cfssl.md,
	// "CRLs per issuer": another key under the same
	// label); they are left alone.
	Skipped int
}

// refreshWorkers bounds concurrent signatures: keystore signers are remote,
// so a few requests in flight hide their latency.
const refreshWorkers = 8

// refreshProgressEvery is how many checked records pass between Progress calls.
const refreshProgressEvery = 1000

// refreshItem is what RefreshOCSP keeps of a listed record.
type refreshItem struct {
	serial    string
	status    string
	reason    int
	revokedAt time.Time
}

// RefreshOCSP pre-signs OCSP responses (SHA-1 CertIDs, RFC 5019) for the
// CA's unexpired certificates whose stored response is missing or expiring.
//
// It lists the store's records of this CA's label that expire after Now,
// then, once the listing is over, reads each stored response (GetOCSP;
// sdk.ErrNotFound means missing) and signs and stores (PutOCSP) a new one
// carrying the record's status when it is missing or its nextUpdate is
// less than Within away. The listing only collects (serial, status,
// reason, revocation time) — memory is linear in the number of
// certificates — because a store may not accept other calls from inside
// List's callback (SQLite's single connection). Signing runs on a small
// pool of workers; Progress is called from the calling goroutine every
// thousand checked records and at the end.
//
// Errors: no certstore; the store's errors from List, GetOCSP and PutOCSP
// (wrapped: errors.Is works with sdk.ErrUnavailable); a stored serial that
// is not decimal; SignOCSP's errors (a delegated responder that is not
// usable, a signing failure, an invalid stored status or reason); ctx's
// error. The first error stops the refresh; the result then counts what was
// done before it.
func (i *Issuer) RefreshOCSP(ctx context.Context, req RefreshRequest) (RefreshResult, error) {
	var res RefreshResult
	store := req.Store
	if store == nil {
		store = i.cfg.Store
	}
	if store == nil {
		return res, errors.New("ca: ocsp refresh: no certstore")
	}
	st := i.ocspState()
	if st.err != nil {
		return res, st.err
	}
	now := req.Now
	if now.IsZero() {
		now = i.cfg.Now()
	}
	validity := req.Validity
	if validity <= 0 {
		validity = i.cfg.OCSPValidity
	}
	if validity <= 0 {
		validity = DefaultOCSPValidity
	}
	within := req.Within
	if within <= 0 {
		within = validity / 2
	}

	var items []refreshItem
	err := store.List(ctx, sdk.ListFilter{IssuerLabel: i.cfg.Label, ExpiresAfter: now}, func(r *sdk.CertRecord) error {
		if sdk.NormalizeAKI(r.AKI) != st.aki {
			res.Skipped++
			return nil
		}
		items = append(items, refreshItem{serial: r.Serial, status: r.Status, reason: r.RevocationReason, revokedAt: r.RevokedAt})
		return ctx.Err()
	})
	if err != nil {
		return res, fmt.Errorf("ca: ocsp refresh: listing certificates: %w", err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan refreshItem)
	type outcome struct {
		signed bool
		err    error
	}
	results := make(chan outcome, refreshWorkers)
	var wg sync.WaitGroup
	for range min(refreshWorkers, len(items)) {
		wg.Go(func() {
			for it := range jobs {
				signed, err := i.refreshOne(wctx, store, st.aki, it, now, validity, within)
				results <- outcome{signed, err}
			}
		})
	}
	go func() {
		defer close(jobs)
		for _, it := range items {
			select {
			case jobs <- it:
			case <-wctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	var firstErr error
	for o := range results {
		if o.err != nil {
			if firstErr == nil {
				firstErr = o.err
				cancel()
			}
			continue
		}
		res.Checked++
		if o.signed {
			res.Signed++
		} else {
			res.Fresh++
		}
		if req.Progress != nil && res.Checked%refreshProgressEvery == 0 {
			req.Progress(res)
		}
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return res, firstErr
	}
	if req.Progress != nil {
		req.Progress(res)
	}
	return res, nil
}

// refreshOne re-signs one certificate's response if needed; it reports
// whether it signed.
func (i *Issuer) refreshOne(ctx context.Context, store sdk.CertStore, aki string, it refreshItem, now time.Time, validity, within time.Duration) (bool, error) {
	rec, err := store.GetOCSP(ctx, it.serial, aki)
	switch {
	case err == nil:
		if rec.NextUpdate.Sub(now) >= within {
			return false, nil
		}
	case errors.Is(err, sdk.ErrNotFound):
	default:
		return false, fmt.Errorf("ca: ocsp refresh: reading the response of %s: %w", it.serial, err)
	}
	serial, ok := new(big.Int).SetString(it.serial, 10)
	if !ok {
		return false, fmt.Errorf("ca: ocsp refresh: stored serial %q is not decimal", it.serial)
	}
	r := OCSPRequest{Serial: serial, Status: it.status, Now: now, Validity: validity, Hash: crypto.SHA1}
	if it.status == sdk.StatusRevoked {
		r.Reason, r.RevokedAt = it.reason, it.revokedAt
	}
	resp, err := i.SignOCSP(ctx, r)
	if err != nil {
		return false, fmt.Errorf("ca: ocsp refresh: serial %s: %w", it.serial, err)
	}
	if err := store.PutOCSP(ctx, &sdk.OCSPRecord{Serial: it.serial, AKI: aki, Response: resp.DER, NextUpdate: resp.NextUpdate}); err != nil {
		return false, fmt.Errorf("ca: ocsp refresh: storing the response of %s: %w", it.serial, err)
	}
	return true, nil
}
