package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
)

// reasonCodes are the RFC 5280 CRLReason names revoke accepts (lower case).
var reasonCodes = map[string]int{
	"unspecified":          0,
	"keycompromise":        1,
	"cacompromise":         2,
	"affiliationchanged":   3,
	"superseded":           4,
	"cessationofoperation": 5,
	"certificatehold":      6,
	"removefromcrl":        8,
	"privilegewithdrawn":   9,
	"aacompromise":         10,
}

// ParseReason reads a revocation reason (DD-9): "" is unspecified (0); a
// case-insensitive RFC 5280 name; or a number 0–6 or 8–10.
func ParseReason(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	if n, ok := reasonCodes[strings.ToLower(s)]; ok {
		return n, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 10 || n == 7 {
		return 0, false
	}
	return n, true
}

// revokeBody is the revoke request (§3.11).
type revokeBody struct {
	Serial string `json:"serial"`
	AKI    string `json:"authority_key_id"`
	Reason string `json:"reason"`
	// Label (pkid) names the issuing CA instead of authority_key_id.
	Label string `json:"label"`
}

// revoke serves /revoke (§3.11) on Options.Store.
func (s *Server) revoke(c *call) (*reply, error) {
	token, inner, wrapped, err := unwrap(c.body)
	if err != nil {
		return nil, err
	}
	var req revokeBody
	if err := decodeJSON(inner, &req); err != nil {
		return nil, badRequest("Unable to parse revocation request: %v", err)
	}
	switch {
	case wrapped:
		if err := checkToken(token, inner, s.revokeKeys()); err != nil {
			return nil, err
		}
	case s.authOn:
		if !s.clientAuthorised(c) {
			return nil, badRequest("authentication required")
		}
	}
	serial := strings.TrimSpace(req.Serial)
	if serial == "" {
		return nil, badRequest("serial number is required but not provided")
	}
	aki := sdk.NormalizeAKI(req.AKI)
	if aki == "" && req.Label != "" {
		iss, err := s.opts.CAs.Get(req.Label)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		aki = iss.AKI()
	}
	if aki == "" {
		return nil, badRequest("authority key id is required but not provided")
	}
	reason, ok := ParseReason(req.Reason)
	if !ok {
		return nil, badRequest("Invalid reason code")
	}
	rr := sdk.RevokeRequest{Serial: serial, AKI: aki, Reason: reason}
	err = s.opts.Store.Revoke(c.r.Context(), rr)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return nil, codedError(codeRecordNotFound, "certificate not found: serial %s, authority key id %s", serial, aki)
	case errors.Is(err, sdk.ErrFailedPrecondition):
		return nil, requestError(http.StatusConflict, "the certificate is already revoked with another reason")
	case errors.Is(err, sdk.ErrInvalidArgument):
		return nil, badRequest("%v", err)
	case errors.Is(err, sdk.ErrUnavailable):
		return nil, &apiError{status: http.StatusServiceUnavailable, code: ca.CodeStoreUnavailable, msg: storeUnavailable(err), cause: err}
	case err != nil:
		return nil, err
	}
	if s.opts.OnRevoke != nil {
		if err := s.opts.OnRevoke(c.r.Context(), rr); err != nil {
			s.log.Error("after revoke", "serial", serial, "aki", aki, "request_id", c.id, "error", err)
		}
	}
	return &reply{result: struct{}{}}, nil
}

// revokeKeys returns the key material named "revoke": Options.AuthKeys,
// else the default CA's auth_keys.
func (s *Server) revokeKeys() [][]byte {
	if k, ok := s.opts.AuthKeys["revoke"]; ok && len(k.Key) > 0 {
		return [][]byte{k.Key}
	}
	if k, ok := s.authKeys[s.opts.CAs.Default]["revoke"]; ok && len(k.Key) > 0 {
		return [][]byte{k.Key}
	}
	return nil
}
