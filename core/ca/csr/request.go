// Package csr reads CFSSL csr.json key-and-certificate requests, generates
// the keys they ask for and builds PKCS#10 certificate signing requests from
// them, the way `cfssl genkey` does.
//
// JSON object keys are matched case-insensitively, as CFSSL's encoding/json
// decoding does; unknown keys are ignored, so every csr.json CFSSL accepts
// loads unedited. Values are checked strictly by Parse and Validate.
//
// Known differences from CFSSL 1.6.5, all deliberate and listed in
// docs/differences-from-cfssl.md ("csr.json details" and others):
//   - Hosts items are trimmed and empty items dropped; only absolute
//     URIs become URI SANs (CFSSL also takes "/path").
//   - Several OIDs in one names element are emitted in numeric OID order
//     (CFSSL: Go map order, i.e. random).
//   - Ed25519 keys are written as "PRIVATE KEY" PKCS#8.
//   - A CSR carries the basic-constraints request even when
//     delegation_enabled is set (CFSSL drops it then).
//   - CA durations also accept a "d" (days) suffix.
package csr

import (
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pkid/pkid/core/duration"
	"net/url"
	"time"
)

// ErrInvalid is matched (errors.Is) by every error that Parse and Validate
// return for a request the caller got wrong.
var ErrInvalid = errors.New("csr: invalid request")

// invalidError marks caller mistakes while keeping the message unchanged.
type invalidError struct{ err error }

func (e *invalidError) Error() string        { return e.err.Error() }
func (e *invalidError) Unwrap() error        { return e.err }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// invalidf formats a one-line "csr: ..." error that matches ErrInvalid.
func invalidf(format string, args ...any) error {
	return &invalidError{fmt.Errorf("csr: "+format, args...)}
}

// Request is a CFSSL csr.json document.
type Request struct {
	CN    string   `json:"CN"`
	Names []Name   `json:"names"`
	Hosts []string `json:"hosts"`
	// KeyRequest is the key to generate; nil means ecdsa 256.
	KeyRequest *KeyRequest `json:"key,omitempty"`
	// CA is honoured by CA initialisation only; when set, Generate adds a
	// basic-constraints request (CA:TRUE) to the CSR.
	CA *CAConfig `json:"ca,omitempty"`
	// SerialNumber is the subject serialNumber attribute.
	SerialNumber      string      `json:"serialnumber,omitempty"`
	DelegationEnabled bool        `json:"delegation_enabled,omitempty"`
	Extensions        []Extension `json:"extensions,omitempty"`
	// CRL is the CRL distribution point of a CA certificate (initca).
	CRL string `json:"crl_url,omitempty"`
}

// Name is one element of csr.json "names". Each non-empty value becomes a
// subject attribute; several elements give multi-valued attributes.
type Name struct {
	C  string `json:"C,omitempty"`
	ST string `json:"ST,omitempty"`
	L  string `json:"L,omitempty"`
	O  string `json:"O,omitempty"`
	OU string `json:"OU,omitempty"`
	// E is an emailAddress (1.2.840.113549.1.9.1) attribute.
	E string `json:"E,omitempty"`
	// SerialNumber is accepted and ignored, as by CFSSL; use
	// Request.SerialNumber.
	SerialNumber string `json:"SerialNumber,omitempty"`
	// OID maps dotted OIDs to extra attribute values.
	OID map[string]string `json:"OID,omitempty"`
}

// CAConfig is csr.json "ca".
type CAConfig struct {
	PathLength  int  `json:"pathlen"`
	PathLenZero bool `json:"pathlenzero"`
	// Expiry and Backdate are Go durations, optionally with a "d" (days)
	// prefix part ("14d", "1d12h"); empty means the default.
	Expiry   string `json:"expiry,omitempty"`
	Backdate string `json:"backdate,omitempty"`
}

// Extension is a raw CSR extension; Value is base64 DER in JSON.
type Extension struct {
	ID       asn1.ObjectIdentifier `json:"Id"`
	Critical bool                  `json:"Critical"`
	Value    []byte                `json:"Value"`
}

// UnmarshalJSON decodes an extension, naming the extension in errors about
// its base64 Value (encoding/json alone reports no field for those).
func (e *Extension) UnmarshalJSON(data []byte) error {
	var raw struct {
		ID       asn1.ObjectIdentifier `json:"Id"`
		Critical bool                  `json:"Critical"`
		Value    json.RawMessage       `json:"Value"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalidf("extensions: %s: want %s, got %s", te.Field, jsonKind(te.Type), te.Value)
		}
		return err
	}
	var value []byte
	if len(raw.Value) > 0 && string(raw.Value) != "null" {
		if err := json.Unmarshal(raw.Value, &value); err != nil {
			return invalidf("extension %v: Value must be base64 DER: %w", raw.ID, err)
		}
	}
	*e = Extension{ID: raw.ID, Critical: raw.Critical, Value: value}
	return nil
}

// MaxPathLen returns the x509.Certificate MaxPathLen/MaxPathLenZero pair
// CFSSL derives from pathlen and pathlenzero: pathlen 0 without
// pathlenzero (or a negative pathlen) means no limit (-1).
func (c *CAConfig) MaxPathLen() (maxPathLen int, maxPathLenZero bool) {
	if c.PathLength > 0 {
		return c.PathLength, false
	}
	if c.PathLength == 0 && c.PathLenZero {
		return 0, true
	}
	return -1, false
}

// ExpiryDuration parses Expiry; it returns 0 when Expiry is empty and an
// error naming the field when it is not a duration.
func (c *CAConfig) ExpiryDuration() (time.Duration, error) {
	return fieldDuration("ca.expiry", c.Expiry)
}

// BackdateDuration parses Backdate; it returns 0 when Backdate is empty and
// an error naming the field when it is not a duration.
func (c *CAConfig) BackdateDuration() (time.Duration, error) {
	return fieldDuration("ca.backdate", c.Backdate)
}

func fieldDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := duration.Parse(s)
	if err != nil {
		return 0, invalidf("%s: %w", field, err)
	}
	return d, nil
}

// Validate checks the values of r: key algorithm and size, CA durations
// and pathlen, names OIDs, extension OIDs (no duplicates) and crl_url. The
// error is one line starting "csr: " that names the field and says what is
// allowed; it matches ErrInvalid.
func (r *Request) Validate() error {
	if err := r.KeyRequest.Validate(); err != nil {
		return err
	}
	if r.CA != nil {
		if r.CA.PathLength < -1 {
			return invalidf("ca.pathlen: %d not allowed: want 0 or more (-1 or omitted: no limit)", r.CA.PathLength)
		}
		if _, err := r.CA.ExpiryDuration(); err != nil {
			return err
		}
		if _, err := r.CA.BackdateDuration(); err != nil {
			return err
		}
	}
	for i, n := range r.Names {
		for k := range n.OID {
			if _, err := ParseOID(k); err != nil {
				return invalidf("names[%d].OID: %w", i, err)
			}
		}
	}
	seen := make(map[string]bool, len(r.Extensions))
	for i, e := range r.Extensions {
		if err := checkOID(e.ID); err != nil {
			return invalidf("extensions[%d].Id: %w", i, err)
		}
		k := e.ID.String()
		if seen[k] {
			return invalidf("extensions[%d]: extension %s given twice", i, k)
		}
		seen[k] = true
	}
	if r.CRL != "" {
		u, err := url.Parse(r.CRL)
		if err != nil || !u.IsAbs() {
			return invalidf("crl_url: %q is not an absolute URL", r.CRL)
		}
	}
	return nil
}
