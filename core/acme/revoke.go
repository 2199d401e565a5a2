package acme

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"crypto/x509"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/server"
	"github.com/pkid/pkid/sdk"
)

// revokeCert serves revokeCert (RFC 8555 section 7.6): signed by the
// account the certificate was issued to (kid) or by the certificate's own
// key (jwk). The revocation takes the daemon's road: the certstore, then
// OCSP and the CRL.
func (rq *request) revokeCert() error {
	ctx := rq.r.Context()
	var req struct {
		Certificate string `json:"certificate"`
		Reason      *int   `json:"reason"`
	}
	if err := rq.decodePayload(&req); err != nil {
		return err
	}
	der, err := base64.RawURLEncoding.DecodeString(req.Certificate)
	if err != nil {
		return malformed("certificate is not unpadded base64url DER")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return malformed("certificate does not parse: %v", err)
	}
	if err := cert.CheckSignatureFrom(rq.d.iss.Certificate()); err != nil {
		return newProblem(http.StatusNotFound, ProbMalformed, "the certificate was not issued by this CA")
	}
	reason := 0
	if req.Reason != nil {
		reason = *req.Reason
	}
	if !sdk.ValidReason(reason) || reason == 8 { // removeFromCRL is not a revocation
		return newProblem(http.StatusBadRequest, ProbBadRevocationReason, "reason %d is not allowed", reason)
	}
	switch {
	case rq.acct != nil:
		c := new(Cert)
		_, err := rq.s.docs.get(ctx, KindCert, hex.EncodeToString(cert.SerialNumber.Bytes()), c)
		if errors.Is(err, sdk.ErrNotFound) || errors.Is(err, sdk.ErrInvalidArgument) || (err == nil && c.Account != rq.acct.ID) {
			return unauthorized("the certificate was not issued to this account")
		}
		if err != nil {
			return storeProblem(err)
		}
	default:
		if !bytesEqual(mustSPKI(rq.jwk.Key), cert.RawSubjectPublicKeyInfo) {
			return unauthorized("the JWS key is not the certificate's key")
		}
	}
	out, err := rq.s.opts.CAs.Revoke(ctx, authority.Revocation{Serial: cert.SerialNumber.String(), Label: rq.d.iss.Label(), Reason: reason}, rq.s.opts.Revoked)
	switch {
	case errors.Is(err, authority.ErrPublish):
		rq.s.log.Warn("acme: revoked, publishing lags", "serial", cert.SerialNumber, "error", err)
	case errors.Is(err, sdk.ErrNotFound):
		return newProblem(http.StatusNotFound, ProbMalformed, "the certificate is not on record")
	case errors.Is(err, sdk.ErrFailedPrecondition):
		return newProblem(http.StatusBadRequest, ProbAlreadyRevoked, "the certificate is already revoked with another reason")
	case err != nil:
		return storeProblem(err)
	}
	// The revocation stands either way; without its audit record the
	// client is told to retry, as the API answers 503.
	if err := rq.commit(ctx, nil, out); err != nil {
		rq.s.log.Error("acme: the audit record of a revocation was not written", "serial", cert.SerialNumber, "error", err)
		p := newProblem(http.StatusServiceUnavailable, ProbServerInternal, "the audit log is unavailable (retryable)")
		p.retryAfter, p.cause = 5, err
		return p
	}
	if out.Already {
		return newProblem(http.StatusBadRequest, ProbAlreadyRevoked, "the certificate is already revoked")
	}
	rq.addNonce()
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func mustSPKI(k any) []byte {
	b, _ := x509.MarshalPKIXPublicKey(k)
	return b
}

// renewalInfo serves RFC 9773's renewalInfo with the daemon's
// renewal-info logic (the suggested window of core/server).
func (rq *request) renewalInfo(certID string) error {
	id, err := server.ParseCertID(certID)
	if err != nil {
		return malformed("%v", err)
	}
	if id.AKI != rq.d.iss.AKI() {
		return newProblem(http.StatusNotFound, ProbMalformed, "the certificate was not issued by this CA")
	}
	store := rq.d.iss.Store()
	if store == nil {
		return newProblem(http.StatusNotFound, ProbMalformed, "this CA keeps no records")
	}
	rec, err := store.Get(rq.r.Context(), id.Serial.String(), rq.d.iss.AKI())
	if errors.Is(err, sdk.ErrNotFound) {
		return newProblem(http.StatusNotFound, ProbMalformed, "no certificate %s", certID)
	}
	if err != nil {
		return storeProblem(err)
	}
	now := rq.s.now()
	w := server.SuggestWindow(rec.NotBefore, rec.NotAfter, rec.Status == sdk.StatusRevoked, now)
	retry := int(min(max(w.Start.Sub(now)/2, time.Minute), 6*time.Hour) / time.Second)
	rq.w.Header().Set("Retry-After", strconv.Itoa(retry))
	rq.w.Header().Set("Content-Type", "application/json")
	return jsonEncode(rq.w, server.RenewalInfo{SuggestedWindow: w})
}
