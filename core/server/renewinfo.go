package server

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
)

// MaxCertIDLength bounds a renewal-info certID: a 64-byte key identifier
// and a 20-byte serial (RFC 5280's limit) take far less.
const MaxCertIDLength = 256

// RenewalInfo is RFC 9773's renewal information object.
type RenewalInfo struct {
	SuggestedWindow Window `json:"suggestedWindow"`
	ExplanationURL  string `json:"explanationURL,omitempty"`
}

// Window is a suggested renewal window.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// CertID is a parsed RFC 9773 certificate identifier.
type CertID struct {
	// AKI is the authority key identifier, lowercase hex.
	AKI string
	// Serial is the serial number.
	Serial *big.Int
}

// ParseCertID parses RFC 9773's certID: base64url (unpadded) of the
// issuer's key identifier, ".", base64url of the serial's DER contents
// octets. Errors: too long, not two parts, bad base64, an empty part, a
// negative or zero serial, a serial with a needless leading zero byte.
func ParseCertID(id string) (CertID, error) {
	if len(id) > MaxCertIDLength {
		return CertID{}, fmt.Errorf("certID is longer than %d characters", MaxCertIDLength)
	}
	a, s, ok := strings.Cut(id, ".")
	if !ok || strings.Contains(s, ".") {
		return CertID{}, errors.New("certID: want base64url(key identifier).base64url(serial)")
	}
	aki, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(aki) == 0 {
		return CertID{}, errors.New("certID: the key identifier is not unpadded base64url")
	}
	ser, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(ser) == 0 {
		return CertID{}, errors.New("certID: the serial is not unpadded base64url")
	}
	if ser[0]&0x80 != 0 {
		return CertID{}, errors.New("certID: the serial is negative")
	}
	if len(ser) > 1 && ser[0] == 0 && ser[1]&0x80 == 0 {
		return CertID{}, errors.New("certID: the serial is not minimally encoded")
	}
	n := new(big.Int).SetBytes(ser)
	if n.Sign() == 0 {
		return CertID{}, errors.New("certID: the serial is zero")
	}
	return CertID{AKI: hex.EncodeToString(aki), Serial: n}, nil
}

// String is the certID's text form.
func (id CertID) String() string {
	aki, _ := hex.DecodeString(id.AKI)
	ser := id.Serial.Bytes()
	if len(ser) > 0 && ser[0]&0x80 != 0 {
		ser = append([]byte{0}, ser...)
	}
	return base64.RawURLEncoding.EncodeToString(aki) + "." + base64.RawURLEncoding.EncodeToString(ser)
}

// SuggestWindow is the renewal window pkid suggests for a certificate
// valid from notBefore to notAfter: from two thirds to five sixths of its
// lifetime, so a client renewing anywhere in it keeps a sixth of the
// lifetime to retry. A revoked certificate gets a window that has already
// ended, which RFC 9773 defines as "renew now".
func SuggestWindow(notBefore, notAfter time.Time, revoked bool, now time.Time) Window {
	if revoked {
		return Window{Start: now.Add(-2 * time.Minute).Truncate(time.Second), End: now.Add(-time.Minute).Truncate(time.Second)}
	}
	life := notAfter.Sub(notBefore)
	return Window{Start: notBefore.Add(life * 2 / 3).Truncate(time.Second), End: notBefore.Add(life * 5 / 6).Truncate(time.Second)}
}

// retryAfterARI is the Retry-After of a renewal-info answer: clients poll
// again at most this often (RFC 9773 asks for a value, not a bound).
func retryAfterARI(w Window, now time.Time) int {
	d := w.Start.Sub(now) / 2
	switch {
	case d < time.Minute:
		return 60
	case d > 6*time.Hour:
		return 6 * 3600
	}
	return int(d / time.Second)
}

// renewalInfo serves GET /renewal-info/{certID}: the suggested window of a
// certificate on record (RFC 9773's object inside the envelope, with its
// Retry-After header). Errors: 400 for a malformed certID, 404 for an
// unknown CA or certificate.
func (s *Server) renewalInfo(c *call) (*reply, error) {
	if c.arg == "" {
		return nil, badRequest("renewal-info needs a certID: GET %srenewal-info/<base64url(key id)>.<base64url(serial)>", BasePath)
	}
	id, err := ParseCertID(c.arg)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	iss := s.opts.CAs.ByAKI(id.AKI)
	if iss == nil {
		return nil, requestError(http.StatusNotFound, "no CA of this server has the key identifier %s", id.AKI)
	}
	c.label = iss.Label()
	store := iss.Store()
	if store == nil {
		store = s.opts.Store
	}
	if store == nil {
		return nil, requestError(http.StatusNotFound, "CA %q keeps no records", iss.Label())
	}
	rec, err := store.Get(c.r.Context(), id.Serial.String(), iss.AKI())
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return nil, requestError(http.StatusNotFound, "certificate not found: serial %s", id.Serial)
	case errors.Is(err, sdk.ErrUnavailable):
		return nil, &apiError{status: http.StatusServiceUnavailable, code: ca.CodeStoreUnavailable, msg: storeUnavailable(err), cause: err}
	case err != nil:
		return nil, err
	}
	now := time.Now()
	w := SuggestWindow(rec.NotBefore, rec.NotAfter, rec.Status == sdk.StatusRevoked, now)
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(retryAfterARI(w, now)))
	return &reply{result: RenewalInfo{SuggestedWindow: w}, header: h}, nil
}
