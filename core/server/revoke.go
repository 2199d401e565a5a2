package server

import (
	"errors"
	"net/http"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
)

// revokeBody is the revoke request (CFSSL's revoke body).
type revokeBody struct {
	Serial string `json:"serial"`
	AKI    string `json:"authority_key_id"`
	Reason string `json:"reason"`
	// Label (pkid) names the issuing CA instead of authority_key_id.
	Label string `json:"label"`
}

// revoke serves /revoke on Options.Store.
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
		if err := checkToken(s.nonces, token, inner, s.revokeKeys()); err != nil {
			return nil, err
		}
	case s.authOn:
		if !s.clientAuthorised(c) {
			return nil, badRequest("authentication required")
		}
	}
	reason, ok := sdk.ParseReason(req.Reason)
	if !ok {
		reason = -1 // refused by Revoke once serial and CA are checked
	}
	r := authority.Revocation{Serial: req.Serial, AKI: req.AKI, Reason: reason, Store: s.opts.Store}
	if sdk.NormalizeAKI(req.AKI) == "" {
		r.Label = req.Label // the AKI wins when both are given
	}
	var pub authority.Publisher
	if s.opts.OnRevoke != nil {
		pub = authority.PublisherFunc(s.opts.OnRevoke)
	}
	res, err := s.opts.CAs.Revoke(c.r.Context(), r, pub)
	c.obs.revoked = res // nil unless recorded
	switch {
	case err == nil:
	case errors.Is(err, authority.ErrPublish): // recorded: the reply is a success
		s.log.Error("after revoke", "serial", res.Request.Serial, "aki", res.Request.AKI, "request_id", c.id, "error", err)
	case errors.Is(err, authority.ErrInvalidReason):
		return nil, badRequest("Invalid reason code")
	case errors.Is(err, authority.ErrNoSerial), errors.Is(err, authority.ErrNoAKI), errors.Is(err, authority.ErrNoCA):
		return nil, badRequest("%v", err)
	case errors.Is(err, sdk.ErrNotFound):
		return nil, codedError(codeRecordNotFound, "%v", err)
	case errors.Is(err, sdk.ErrFailedPrecondition):
		return nil, requestError(http.StatusConflict, "the certificate is already revoked with another reason")
	case errors.Is(err, sdk.ErrInvalidArgument):
		return nil, badRequest("%v", err)
	case errors.Is(err, sdk.ErrUnavailable):
		return nil, &apiError{status: http.StatusServiceUnavailable, code: ca.CodeStoreUnavailable, msg: storeUnavailable(err), cause: err}
	default:
		return nil, err
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
