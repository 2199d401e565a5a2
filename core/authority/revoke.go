package authority

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
)

// Revocation is one certificate Set.Revoke revokes.
type Revocation struct {
	Serial string // decimal
	// AKI is the issuing key's identifier (any case, colons allowed);
	// Label names the issuing CA instead. With both, they must agree.
	AKI, Label string
	Reason     int // RFC 5280 CRLReason (sdk.ParseReason)
	// Store is the certstore used when no configured CA has the AKI
	// (certificates of a retired or imported CA) or the CA has no
	// certstore; nil refuses such revocations (ErrNoStore).
	Store sdk.CertStore
	// Record, when the caller has just read this certificate's record
	// (revoke -all lists them), saves reading it again; the store applies
	// the transition rules again anyway.
	Record *sdk.CertRecord
}

// Revoked is what Set.Revoke did.
type Revoked struct {
	// Request is what was sent to the store (normalised AKI).
	Request sdk.RevokeRequest
	// Issuer is the configured CA with the AKI; nil when none has it.
	Issuer *ca.Issuer
	// Already: the certificate was revoked with this reason before;
	// nothing changed and RevokedAt is the original time.
	Already   bool
	RevokedAt time.Time
}

// Publisher finishes a revocation recorded in the store: it re-signs the
// certificate's OCSP response and schedules its CA's CRLs
// (core/revocation's Service). Its error leaves the revocation recorded.
type Publisher interface {
	Revoked(ctx context.Context, rr sdk.RevokeRequest) error
}

// PublisherFunc is a function as a Publisher.
type PublisherFunc func(ctx context.Context, rr sdk.RevokeRequest) error

// Revoked calls f.
func (f PublisherFunc) Revoked(ctx context.Context, rr sdk.RevokeRequest) error { return f(ctx, rr) }

// Errors of Set.Revoke besides the store's (wrapped: sdk.ErrNotFound for
// an unknown certificate, sdk.ErrFailedPrecondition for one revoked with
// another reason, sdk.ErrUnavailable, sdk.ErrInvalidArgument).
var (
	ErrNoSerial = errors.New("serial number is required but not provided")
	ErrNoAKI    = errors.New("authority key id is required but not provided")
	// ErrInvalidReason: the reason is not one sdk.ValidReason accepts.
	ErrInvalidReason = errors.New("invalid revocation reason")
	// ErrNoStore: neither the CA nor the Revocation has a certstore.
	ErrNoStore = errors.New("no certstore")
	// ErrPublish wraps the Publisher's error: the revocation is recorded,
	// but its OCSP response or CRL may lag.
	ErrPublish = errors.New("revoked, but updating OCSP/CRL failed")
)

// Revoke revokes one certificate. It checks the request in order (serial,
// CA by Label or AKI, certstore, reason), reads the record and applies
// sdk.RevocationTransition (the same reason again changes nothing; only
// certificateHold may change reason), records the revocation, then tells
// pub (nil: nobody), also when nothing changed, so a retry repairs a
// failed re-sign. An error wrapping ErrPublish comes with a non-nil
// Revoked: the revocation is recorded.
func (s *Set) Revoke(ctx context.Context, r Revocation, pub Publisher) (*Revoked, error) {
	serial := strings.TrimSpace(r.Serial)
	if serial == "" {
		return nil, ErrNoSerial
	}
	iss, aki, store, err := s.RevocationScope(r.Label, r.AKI, r.Store)
	if err != nil {
		return nil, err
	}
	if !sdk.ValidReason(r.Reason) {
		return nil, fmt.Errorf("%w %d", ErrInvalidReason, r.Reason)
	}
	rr := sdk.RevokeRequest{Serial: serial, AKI: aki, Reason: r.Reason}
	out := &Revoked{Request: rr, Issuer: iss}
	rec := r.Record
	if rec == nil {
		if rec, err = store.Get(ctx, serial, aki); err != nil {
			return nil, storeError(rr, err)
		}
	}
	update, at, err := sdk.RevocationTransition(rec.Status, rec.RevocationReason, rec.RevokedAt, rr)
	if err != nil {
		return nil, &kindError{fmt.Sprintf("serial %s is already revoked with another reason (%d, not %d)", serial, rec.RevocationReason, r.Reason), sdk.ErrFailedPrecondition}
	}
	out.Already, out.RevokedAt = !update, at
	if update {
		// The store applies the same rules again, atomically: a
		// concurrent revocation with another reason still fails here.
		if err := store.Revoke(ctx, rr); err != nil {
			return nil, storeError(rr, err)
		}
	}
	if pub != nil {
		if err := pub.Revoked(ctx, rr); err != nil {
			return out, fmt.Errorf("serial %s %w: %w", serial, ErrPublish, err)
		}
	}
	return out, nil
}

// RevocationScope resolves whose certificates a revocation is about: the
// CA of label (when set) or of aki, the normalised AKI (the CA's when only
// label is set) and the certstore: the CA's, else fallback. Errors:
// ErrNoCA (unknown label), ErrNoAKI, ErrNoStore, and an aki that is not
// the label's CA's.
func (s *Set) RevocationScope(label, aki string, fallback sdk.CertStore) (*ca.Issuer, string, sdk.CertStore, error) {
	aki = sdk.NormalizeAKI(aki)
	var iss *ca.Issuer
	if label != "" {
		var err error
		if iss, err = s.Get(label); err != nil {
			return nil, "", nil, err
		}
		if aki != "" && aki != iss.AKI() {
			return nil, "", nil, fmt.Errorf("authority key id %s is not the key identifier of CA %q (%s)", aki, label, iss.AKI())
		}
		aki = iss.AKI()
	} else if aki != "" {
		iss = s.ByAKI(aki)
	}
	if aki == "" {
		return nil, "", nil, ErrNoAKI
	}
	store := fallback
	if iss != nil && iss.Store() != nil {
		store = iss.Store()
	}
	if store == nil {
		if iss != nil {
			return nil, "", nil, &kindError{fmt.Sprintf("CA %q has no certstore", iss.Label()), ErrNoStore}
		}
		return nil, "", nil, &kindError{fmt.Sprintf("no configured CA has the key identifier %s", aki), ErrNoStore}
	}
	return iss, aki, store, nil
}

// storeError gives the store's error one line saying which certificate.
func storeError(rr sdk.RevokeRequest, err error) error {
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return &kindError{fmt.Sprintf("certificate not found: serial %s, authority key id %s", rr.Serial, rr.AKI), sdk.ErrNotFound}
	case errors.Is(err, sdk.ErrFailedPrecondition):
		return &kindError{fmt.Sprintf("serial %s is already revoked with another reason", rr.Serial), sdk.ErrFailedPrecondition}
	}
	return fmt.Errorf("revoking serial %s: %w", rr.Serial, err)
}

// kindError is a complete message that errors.Is matches to its kind
// (an sdk error) without the kind's text appended.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }
