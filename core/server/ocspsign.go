package server

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
)

// CFSSL's OCSP error codes (category 8000).
const (
	codeOCSPNotIssued = 8100
	codeOCSPInvalid   = 8200
)

// ocspsignBody is the ocspsign request plus pkid's label.
type ocspsignBody struct {
	Certificate string `json:"certificate"`
	Status      string `json:"status"`
	Reason      int    `json:"reason"`
	RevokedAt   string `json:"revoked_at"`
	IssuerHash  string `json:"issuer_hash"`
	Label       string `json:"label"`
}

// ocspHashes are the CertID hashes ocspsign accepts (MD5 is refused).
var ocspHashes = map[string]crypto.Hash{
	"SHA1": crypto.SHA1, "SHA256": crypto.SHA256, "SHA384": crypto.SHA384, "SHA512": crypto.SHA512,
}

// ocspsign serves POST /ocspsign with the labelled (or default) CA's
// responder.
func (s *Server) ocspsign(c *call) (*reply, error) {
	token, inner, wrapped, err := unwrap(c.body)
	if err != nil {
		return nil, err
	}
	var req ocspsignBody
	if err := decodeJSON(inner, &req); err != nil {
		return nil, badRequest("Unable to parse OCSP signing request: %v", err)
	}
	if err := s.endpointAuth(c, "ocspsign", token, inner, wrapped); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Certificate) == "" {
		return nil, badRequest("missing parameter 'certificate'")
	}
	iss, err := s.opts.CAs.GetOrDefault(req.Label)
	if err != nil {
		if errors.Is(err, authority.ErrNoCA) {
			return nil, badRequest("bad label")
		}
		return nil, err
	}
	c.label = iss.Label()
	cert, err := parseOneCertificate(req.Certificate)
	if err != nil {
		return nil, badRequest("malformed certificate")
	}
	hash := crypto.SHA1
	if h := strings.ToUpper(strings.TrimSpace(req.IssuerHash)); h != "" {
		var ok bool
		if hash, ok = ocspHashes[h]; !ok {
			if h == "MD5" {
				return nil, badRequest("issuer_hash MD5 is not supported: use SHA1, SHA256, SHA384 or SHA512")
			}
			return nil, badRequest("invalid issuer_hash %q: want SHA1, SHA256, SHA384 or SHA512", req.IssuerHash)
		}
	}
	status := req.Status
	if status == "" {
		status = sdk.StatusGood
	}
	or := ca.OCSPRequest{Certificate: cert, Status: status, Hash: hash}
	switch status {
	case sdk.StatusGood, ca.StatusUnknown:
	case sdk.StatusRevoked:
		if !sdk.ValidReason(req.Reason) {
			return nil, badRequest("Invalid reason code")
		}
		at, err := parseRevokedAt(req.RevokedAt, time.Now())
		if err != nil {
			return nil, badRequest("%v", err)
		}
		or.Reason, or.RevokedAt = req.Reason, at
	default:
		return nil, codedError(codeOCSPInvalid, "invalid status %q: want good, revoked or unknown", req.Status)
	}
	// As in CFSSL, the issuer name must match (8100) and the signature verify
	// (8200). SignOCSP checks too; checking here keeps the codes exact.
	caCert := iss.Certificate()
	if !bytes.Equal(cert.RawIssuer, caCert.RawSubject) {
		return nil, codedError(codeOCSPNotIssued, "Certificate not issued by this issuer")
	}
	if err := cert.CheckSignatureFrom(caCert); err != nil {
		return nil, codedError(codeOCSPInvalid, "certificate signature does not verify with the issuer's key")
	}
	resp, err := iss.SignOCSP(c.r.Context(), or)
	if err != nil {
		return nil, err
	}
	return &reply{result: map[string]string{"ocspResponse": base64.StdEncoding.EncodeToString(resp.DER)}}, nil
}

// parseRevokedAt reads CFSSL's revoked_at: "" or "now" is now, else a
// YYYY-MM-DD date (UTC midnight).
func parseRevokedAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "now") {
		return now.UTC(), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, errors.New("malformed revocation time: want YYYY-MM-DD or now")
	}
	return t, nil
}
