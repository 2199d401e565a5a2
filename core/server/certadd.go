package server

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
)

// codeInsertionFailed is CFSSL's CertStoreError + InsertionFailed.
const codeInsertionFailed = 11100

// certaddBody is CFSSL's certadd request. Everything the PEM says is
// checked against it; the PEM is the record.
type certaddBody struct {
	Serial     string          `json:"serial_number"`
	AKI        string          `json:"authority_key_identifier"`
	CALabel    string          `json:"ca_label"`
	Status     string          `json:"status"`
	Reason     int             `json:"reason"`
	Expiry     time.Time       `json:"expiry"`
	RevokedAt  time.Time       `json:"revoked_at"`
	PEM        string          `json:"pem"`
	IssuedAt   *time.Time      `json:"issued_at"`
	NotBefore  *time.Time      `json:"not_before"`
	Metadata   json.RawMessage `json:"metadata"`
	SANs       json.RawMessage `json:"sans"`
	CommonName string          `json:"common_name"`
}

// certadd records a certificate issued elsewhere (CFSSL's certadd): the
// request must describe its PEM exactly (serial, AKI, expiry), the issuer
// is a configured CA (by ca_label or AKI) and the record goes into that
// CA's certstore. When the issuer is one of this daemon's CAs, the reply
// carries an OCSP response for the recorded status.
//
// Errors: 400 for an unparseable body, a PEM that does not match the
// request, an unknown status or reason, revoked without revoked_at, an
// issuer not configured here; 409 when the serial is already recorded;
// 503 when the store is unavailable.
func (s *Server) certadd(c *call) (*reply, error) {
	token, inner, wrapped, err := unwrap(c.body)
	if err != nil {
		return nil, err
	}
	var req certaddBody
	if err := decodeJSON(inner, &req); err != nil {
		return nil, badRequest("Unable to parse certificate addition request: %v", err)
	}
	if err := s.endpointAuth(c, "certadd", token, inner, wrapped); err != nil {
		return nil, err
	}
	cert, err := certaddPEM(req.PEM)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	serial, ok := new(big.Int).SetString(strings.TrimSpace(req.Serial), 10)
	switch {
	case req.Serial == "":
		return nil, badRequest("missing parameter 'serial_number'")
	case !ok || serial.Cmp(cert.SerialNumber) != 0:
		return nil, badRequest("serial_number does not match the certificate's serial number")
	case req.AKI == "":
		return nil, badRequest("missing parameter 'authority_key_identifier'")
	case sdk.NormalizeAKI(req.AKI) != hex.EncodeToString(cert.AuthorityKeyId):
		return nil, badRequest("authority_key_identifier does not match the certificate's")
	case !req.Expiry.Equal(cert.NotAfter):
		return nil, badRequest("expiry does not match the certificate's NotAfter")
	case req.NotBefore != nil && !req.NotBefore.Equal(cert.NotBefore):
		return nil, badRequest("not_before does not match the certificate's NotBefore")
	case req.CommonName != "" && req.CommonName != cert.Subject.CommonName:
		return nil, badRequest("common_name does not match the certificate's")
	}
	rec := ca.Record(cert, "", "", nil)
	if len(req.Metadata) > 0 && string(req.Metadata) != "null" {
		if !json.Valid(req.Metadata) {
			return nil, badRequest("metadata is not JSON")
		}
		rec.Metadata = req.Metadata
	}
	or := ca.OCSPRequest{Certificate: cert, Status: sdk.StatusGood}
	switch req.Status {
	case sdk.StatusGood:
	case sdk.StatusRevoked:
		if !sdk.ValidReason(req.Reason) {
			return nil, badRequest("Invalid reason code")
		}
		if req.RevokedAt.IsZero() {
			return nil, badRequest("missing parameter 'revoked_at' for a revoked certificate")
		}
		rec.Status, rec.RevocationReason, rec.RevokedAt = sdk.StatusRevoked, req.Reason, req.RevokedAt.UTC()
		or.Status, or.Reason, or.RevokedAt = sdk.StatusRevoked, req.Reason, rec.RevokedAt
	default:
		return nil, badRequest("invalid status %q: want good or revoked", req.Status)
	}
	iss, aki, store, err := s.opts.CAs.RevocationScope(req.CALabel, rec.AKI, s.opts.Store)
	switch {
	case err == nil:
	case errors.Is(err, authority.ErrNoCA):
		return nil, badRequest("bad label")
	case errors.Is(err, authority.ErrNoStore), errors.Is(err, authority.ErrNoAKI):
		return nil, badRequest("%v", err)
	default:
		return nil, badRequest("%v", err)
	}
	if iss == nil {
		return nil, badRequest("no configured CA has the key identifier %s", aki)
	}
	if err := cert.CheckSignatureFrom(iss.Certificate()); err != nil {
		return nil, badRequest("the certificate is not signed by CA %q", iss.Label())
	}
	c.label = iss.Label()
	rec.IssuerLabel = iss.Label()
	// Put is idempotent for the same certificate whatever the status, so
	// a status change through certadd would be acknowledged and ignored:
	// refuse it (revoke changes a status).
	if prev, err := store.Get(c.r.Context(), rec.Serial, rec.AKI); err == nil && prev.Status != rec.Status {
		return nil, requestError(http.StatusConflict, "serial %s of %s is already recorded as %s", rec.Serial, aki, prev.Status)
	}
	if err := store.Put(c.r.Context(), rec); err != nil {
		switch {
		case errors.Is(err, sdk.ErrAlreadyExists):
			return nil, requestError(http.StatusConflict, "serial %s of %s is already recorded", rec.Serial, aki)
		case errors.Is(err, sdk.ErrInvalidArgument):
			return nil, codedError(codeInsertionFailed, "%v", err)
		case errors.Is(err, sdk.ErrUnavailable):
			return nil, &apiError{status: http.StatusServiceUnavailable, code: ca.CodeStoreUnavailable, msg: storeUnavailable(err), cause: err}
		}
		return nil, err
	}
	resp, err := iss.SignOCSP(c.r.Context(), or)
	if err != nil {
		// Recorded: the periodic OCSP run signs it later.
		s.log.Warn("certadd: OCSP response not signed", "serial", rec.Serial, "error", err)
		return &reply{result: struct{}{}}, nil
	}
	return &reply{result: map[string]string{"ocsp_response": base64.StdEncoding.EncodeToString(resp.DER)}}, nil
}

func certaddPEM(s string) (*x509.Certificate, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("missing parameter 'pem'")
	}
	b, rest := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" || strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("pem: want exactly one PEM certificate")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, errors.New("pem: malformed certificate")
	}
	return cert, nil
}
