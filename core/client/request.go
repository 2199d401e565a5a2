package client

import (
	"encoding/json"
	"math/big"
	"time"

	"github.com/pkid/pkid/core/ca/csr"
)

// SignRequest is the inner sign document sent to /sign and, wrapped, to
// /authsign. Field order and names are CFSSL's signer.SignRequest, so the
// JSON is what CFSSL clients send.
type SignRequest struct {
	// Hosts, when non-nil, replace the CSR's SANs on the remote.
	Hosts []string `json:"hosts"`
	// Request is the PEM certificate request.
	Request string `json:"certificate_request"`
	// Subject optionally overrides the CSR's subject.
	Subject     *Subject `json:"subject,omitempty"`
	Profile     string   `json:"profile"`
	CRLOverride string   `json:"crl_override"`
	Label       string   `json:"label"`
	// Serial is the caller's serial (profiles with
	// ClientProvidesSerialNumbers only).
	Serial        *big.Int        `json:"serial,omitempty"`
	Extensions    []Extension     `json:"extensions,omitempty"`
	NotBefore     time.Time       `json:"NotBefore"`
	NotAfter      time.Time       `json:"NotAfter"`
	ReturnPrecert bool            `json:"ReturnPrecert"`
	Metadata      json.RawMessage `json:"metadata"`
}

// Subject overrides a CSR's subject: {"CN", "names", "SerialNumber"}.
type Subject struct {
	CN           string
	Names        []csr.Name `json:"names"`
	SerialNumber string
}

// Extension is an extension the request asks for: a dotted OID, the
// criticality and the hex-encoded DER value.
type Extension struct {
	ID       string `json:"id"`
	Critical bool   `json:"critical"`
	Value    string `json:"value"`
}

// InfoResult is the result of /info.
type InfoResult struct {
	// Certificate is the CA certificate PEM (CFSSL sends it without the
	// trailing newline).
	Certificate string   `json:"certificate"`
	Usages      []string `json:"usages"`
	Expiry      string   `json:"expiry"`
}

// infoRequest is the body of /info.
type infoRequest struct {
	Label   string `json:"label"`
	Profile string `json:"profile"`
}

// signResult is the result of /sign and /authsign.
type signResult struct {
	Certificate string `json:"certificate"`
}

// envelope is the reply of every endpoint (CFSSL's envelope).
type envelope struct {
	Success  bool            `json:"success"`
	Result   json.RawMessage `json:"result"`
	Errors   []apiMessage    `json:"errors"`
	Messages []apiMessage    `json:"messages"`
}

type apiMessage struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// RevokeRequest is the body of /revoke (CFSSL's): the serial as the server
// records it, the issuing CA's key identifier (hex, separators allowed)
// and a reason name or number ("" is unspecified).
type RevokeRequest struct {
	Serial string `json:"serial"`
	AKI    string `json:"authority_key_id"`
	Reason string `json:"reason"`
}
