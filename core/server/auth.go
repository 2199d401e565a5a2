package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/pkid/pkid/core/ca/profile"
)

// tokenEndpoints are the DD-1 endpoints: with authentication configured
// they need an authorised client certificate or the §4.4 wrapper.
var tokenEndpoints = map[string]bool{"sign": true, "newcert": true, "revoke": true, "gencrl": true, "ocspsign": true,
	"newkey": true, "init_ca": true, "certadd": true}

// guardedEndpoints are the endpoints that issue, revoke, sign OCSP or CRLs
// or generate keys. Once any client certificate policy exists, a verified
// client is authorised for one of them only by the endpoint's own entry or
// a "*" entry: naming sign alone must not leave newcert open.
var guardedEndpoints = map[string]bool{"sign": true, "authsign": true, "newcert": true, "newkey": true, "init_ca": true,
	"revoke": true, "ocspsign": true, "gencrl": true, "certadd": true}

// verifiedClient returns the verified mTLS client certificate, or nil.
func verifiedClient(r *http.Request) *x509.Certificate {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	return r.TLS.PeerCertificates[0]
}

// policyFor returns the client certificate patterns of an endpoint and
// whether it has a policy at all. "*" stands in only for guarded
// endpoints: read-only ones (info, certinfo, health, crl) stay open to
// relying parties and health probes unless named.
func (s *Server) policyFor(endpoint string) ([]*regexp.Regexp, bool) {
	if res, ok := s.policies[endpoint]; ok {
		return res, true
	}
	if !guardedEndpoints[endpoint] {
		return nil, false
	}
	res, ok := s.policies["*"]
	return res, ok
}

// checkClientCert applies the client certificate policy once c.body is
// read, and records in c whether the client certificate authorises the
// request. Without any policy, every verified client is authorised. With
// one, for an endpoint with an entry (its own or "*"): a verified client
// whose CN matches no pattern is refused with 403 `Invalid CN`; without a
// client certificate, endpoints other than the DD-1 ones (which may use a
// token instead) are refused with 403. A guarded endpoint without an entry
// refuses every verified client with 403, except on HMAC-token requests,
// which the endpoint checks itself. Other endpoints without an entry are
// open.
func (s *Server) checkClientCert(c *call) error {
	cert := verifiedClient(c.r)
	if len(s.policies) == 0 {
		c.clientOK = cert != nil
		return nil
	}
	res, ok := s.policyFor(c.endpoint)
	if !ok {
		if cert == nil || !guardedEndpoints[c.endpoint] || s.tokenRequest(c) {
			return nil
		}
		return requestError(http.StatusForbidden, "client certificate %q is not authorised for %s: client_cert_policy has no %s or \"*\" entry",
			cert.Subject.CommonName, c.endpoint, c.endpoint)
	}
	if cert == nil {
		if tokenEndpoints[c.endpoint] {
			return nil
		}
		return requestError(http.StatusForbidden, "client certificate required for %s", c.endpoint)
	}
	if len(res) == 0 {
		c.clientOK = true
		return nil
	}
	for _, re := range res {
		if re.MatchString(cert.Subject.CommonName) {
			c.clientOK = true
			return nil
		}
	}
	return requestError(http.StatusForbidden, "Invalid CN %q for %s", cert.Subject.CommonName, c.endpoint)
}

// tokenRequest reports whether c authenticates with an HMAC token rather
// than its client certificate: authsign always, a DD-1 endpoint when the
// body is a §4.4 wrapper (the endpoint verifies the token).
func (s *Server) tokenRequest(c *call) bool {
	if c.endpoint == "authsign" {
		return true
	}
	_, _, wrapped, _ := unwrap(c.body)
	return tokenEndpoints[c.endpoint] && wrapped
}

// clientAuthorised reports whether the request carries a verified client
// certificate that the policy admits for its endpoint (checkClientCert
// ran before).
func (s *Server) clientAuthorised(c *call) bool {
	return c.clientOK
}

// wrapper is the authsign body (§4.1).
type wrapper struct {
	Token     string          `json:"token"`
	Request   string          `json:"request"`
	Timestamp json.RawMessage `json:"timestamp"`
	Remote    string          `json:"remote_address"`
}

// unwrap detects the §4.4 wrapper: a JSON object whose top-level token and
// request are strings. It returns the decoded token and inner request; for
// a body that is not a wrapper, inner is the body itself.
func unwrap(body []byte) (token, inner []byte, ok bool, err error) {
	var probe struct {
		Token   json.RawMessage `json:"token"`
		Request json.RawMessage `json:"request"`
	}
	if json.Unmarshal(body, &probe) != nil || !isJSONString(probe.Token) || !isJSONString(probe.Request) {
		return nil, body, false, nil
	}
	var w wrapper
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, nil, true, badRequest("%v", err)
	}
	token, inner, err = decodeWrapper(&w)
	return token, inner, true, err
}

// decodeWrapper base64-decodes the wrapper's token and request.
func decodeWrapper(w *wrapper) (token, inner []byte, err error) {
	token, err = base64.StdEncoding.DecodeString(w.Token)
	if err != nil {
		return nil, nil, badRequest("token: %v", err)
	}
	inner, err = base64.StdEncoding.DecodeString(w.Request)
	if err != nil {
		return nil, nil, badRequest("request: %v", err)
	}
	return token, inner, nil
}

func isJSONString(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] == '"'
}

// Token returns the §4.2 token for the inner request bytes under key:
// standard base64 of HMAC-SHA256(key, request).
func Token(key, request []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(request)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// validToken reports whether token is HMAC-SHA256(key, request) for one of
// keys, compared in constant time.
func validToken(token, request []byte, keys ...[]byte) bool {
	if len(token) != sha256.Size {
		return false
	}
	ok := false
	for _, k := range keys {
		if len(k) == 0 {
			continue
		}
		m := hmac.New(sha256.New, k)
		m.Write(request)
		if hmac.Equal(m.Sum(nil), token) {
			ok = true
		}
	}
	return ok
}

// profileKeys returns the key material of p's auth_key and prev_auth_key
// for the CA label; nil when p has none configured.
func (s *Server) profileKeys(label string, p *profile.Profile) [][]byte {
	keys := s.authKeys[label]
	var out [][]byte
	for _, name := range []string{p.AuthKey, p.PrevAuthKey} {
		if name == "" {
			continue
		}
		if k, ok := keys[name]; ok && len(k.Key) > 0 {
			out = append(out, k.Key)
		}
	}
	return out
}

// checkToken verifies a token against keys (§4.3 steps 3–4).
func checkToken(token, request []byte, keys [][]byte) error {
	if len(keys) == 0 {
		return badRequest("no authentication provider")
	}
	if !validToken(token, request, keys...) {
		return badRequest("invalid token")
	}
	return nil
}
