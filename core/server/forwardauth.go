package server

import (
	"net/http"
	"strings"
)

// AuthorizeForward applies this server's own authorization to a request
// that core/forward is about to send to a remote CA, by the rules a local
// request of the same endpoint meets: the client certificate policy first
// (client_cert_policy entries for sign, authsign, newcert, info hold for
// forwarded requests as for local ones), then the profile's local token
// keys: authsign and a token wrapper on sign or newcert must carry a valid
// token (v2 replay checks included), and a plain sign or newcert of a
// profile with keys, or under any authentication, needs an authorised
// client certificate (docs/differences-from-cfssl.md, "Forwarding profiles
// are guarded by pkid's own policy").
//
// It returns the inner request: the body itself, or the request inside a
// token wrapper. Errors render with ErrorStatus: 403 for the client
// certificate policy; 400 "authentication required" for a plain request
// that needs authentication and 400 for a token that does not verify (as
// on the local endpoints and in CFSSL); 503 when the nonce cache is full.
func (s *Server) AuthorizeForward(r *http.Request, endpoint string, body []byte, keys [][]byte, replayProtection bool) ([]byte, error) {
	c := &call{r: r, endpoint: endpoint, body: body}
	if err := s.checkClientCert(c); err != nil {
		return nil, err
	}
	kr := keyring{keys: keys, replayProtection: replayProtection}
	switch endpoint {
	case "info":
		return body, nil
	case "authsign":
		var w wrapper
		if err := decodeJSON(body, &w); err != nil {
			return nil, badRequest("%v", err)
		}
		token, inner, err := decodeWrapper(&w)
		if err != nil {
			return nil, err
		}
		if err := checkToken(s.nonces, token, inner, kr); err != nil {
			return nil, err
		}
		return inner, nil
	}
	token, inner, wrapped, err := unwrap(body)
	if err != nil {
		return nil, err
	}
	if wrapped {
		if err := checkToken(s.nonces, token, inner, kr); err != nil {
			return nil, err
		}
		return inner, nil
	}
	if (len(keys) > 0 || s.authOn) && !c.clientOK {
		// The local endpoints' answer, and CFSSL's for a sign of a
		// profile with an auth_key (remote or not).
		return nil, badRequest("authentication required")
	}
	return inner, nil
}

// GenerateKey makes the key and CSR of a forwarded newcert from its
// request section, under this server's key limits (max_rsa_bits,
// max_key_generations: 429 when busy). Errors render with ErrorStatus.
func (s *Server) GenerateKey(request []byte) (keyPEM, csrPEM []byte, err error) {
	req, err := parseKeyRequest(request)
	if err != nil {
		return nil, nil, err
	}
	if req.CA != nil {
		return nil, nil, badRequest("ca section only permitted in initca")
	}
	_, keyPEM, csrPEM, err = s.generate(req)
	return keyPEM, csrPEM, err
}

// ErrorStatus is how the API answers err: HTTP status, CFSSL error code
// and message (internal errors as a generic message).
func (s *Server) ErrorStatus(err error) (status, code int, msg string) {
	status, code, msg, internal := classify(err)
	if internal {
		msg = "internal server error"
		if t := strings.TrimSpace(err.Error()); t != "" {
			s.log.Error("forwarded request", "error", logSafeN(t, maxLoggedError))
		}
	}
	return status, code, msg
}
