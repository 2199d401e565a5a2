package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/pkid/pkid/core/ca/profile"
)

// tokenEndpoints are the endpoints that CFSSL leaves open but pkid guards:
// with authentication configured they need an authorised client
// certificate or the token wrapper (docs/differences-from-cfssl.md,
// "Authentication applies everywhere").
var tokenEndpoints = map[string]bool{"sign": true, "newcert": true, "revoke": true, "gencrl": true, "ocspsign": true,
	"newkey": true, "init_ca": true, "certadd": true}

// guardedEndpoints are the endpoints that issue, revoke, sign OCSP or CRLs
// or generate keys. Once any client certificate policy exists, a verified
// client is authorised for one of them only by the endpoint's own entry or
// a "*" entry: naming sign alone must not leave newcert open.
var guardedEndpoints = map[string]bool{"sign": true, "authsign": true, "newcert": true, "newkey": true, "init_ca": true,
	"revoke": true, "ocspsign": true, "gencrl": true, "certadd": true, "renew": true}

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
// client certificate, endpoints other than tokenEndpoints (which may use a
// token instead) are refused with 403. A guarded endpoint without an entry
// refuses every verified client with 403, except on HMAC-token requests,
// which the endpoint checks itself. Other endpoints without an entry are
// open.
func (s *Server) checkClientCert(c *call) error {
	cert := verifiedClient(c.r)
	if c.endpoint == "renew" {
		return nil // renew verifies its certificate against its own CAs, then applies the policy (renewPolicy)
	}
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
// than its client certificate: authsign always, one of tokenEndpoints when
// the body is a token wrapper (the endpoint verifies the token).
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

// wrapper is the authsign body ({"token","request"}), with pkid's replay-resistant
// fields: Version "v2" makes TS and Nonce part of the signed material.
type wrapper struct {
	Token     string          `json:"token"`
	Request   string          `json:"request"`
	Timestamp json.RawMessage `json:"timestamp"`
	Remote    string          `json:"remote_address"`
	Version   string          `json:"pkid_auth"`
	TS        json.RawMessage `json:"ts"`
	Nonce     string          `json:"nonce"`
}

// AuthVersionHeader is set to AuthVersion on every API response so that
// pkid's client knows it may send v2 tokens; CFSSL clients ignore it.
const (
	AuthVersionHeader = "Pkid-Auth"
	AuthVersion       = "v2"
)

// v2 token format (README "Replay-resistant tokens"):
//
//	M     = "pkid-auth-v2" 0x00 || ts (int64, 8 bytes big-endian) ||
//	        len(nonce) (1 byte) || nonce (16–64 bytes) || R
//	token = base64std(HMAC-SHA256(K, M))
//
// The header before R fixes its own length, so no two (ts, nonce, R)
// share an M, and M is never JSON, so no CFSSL token (MAC of a JSON R)
// is a v2 token or the reverse.
const (
	v2Domain   = "pkid-auth-v2\x00"
	minNonce   = 16
	maxNonce   = 64
	v2HeadBase = len(v2Domain) + 8 + 1
)

// announceAuth advertises v2 token support on a response.
func announceAuth(w http.ResponseWriter) {
	w.Header().Set(AuthVersionHeader, AuthVersion)
}

// unwrap detects the token wrapper that pkid also accepts on
// tokenEndpoints (docs/differences-from-cfssl.md, "Authentication applies
// everywhere"): a JSON object whose top-level token and request are
// strings. It returns the credential (see decodeWrapper) and
// inner request; for a body that is not a wrapper, inner is the body itself.
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

// decodeWrapper base64-decodes the wrapper's token and request. The
// returned credential is what checkToken verifies: for a CFSSL wrapper the
// 32-byte MAC (anything else is emptied, so it can only fail); for a v2
// wrapper the header of M (v2Domain, ts, nonce) followed by the MAC.
func decodeWrapper(w *wrapper) (token, inner []byte, err error) {
	token, err = base64.StdEncoding.DecodeString(w.Token)
	if err != nil {
		return nil, nil, badRequest("token: %v", err)
	}
	inner, err = base64.StdEncoding.DecodeString(w.Request)
	if err != nil {
		return nil, nil, badRequest("request: %v", err)
	}
	if w.Version == "" {
		if len(token) != sha256.Size {
			token = nil
		}
		return token, inner, nil
	}
	if w.Version != AuthVersion {
		return nil, nil, badRequest("unsupported pkid_auth version %q (supported: %q)", w.Version, AuthVersion)
	}
	ts, err := strconv.ParseInt(string(w.TS), 10, 64)
	if err != nil {
		return nil, nil, badRequest("ts: want an integer number of Unix seconds")
	}
	nonce, err := base64.StdEncoding.DecodeString(w.Nonce)
	if err != nil || len(nonce) < minNonce || len(nonce) > maxNonce {
		return nil, nil, badRequest("nonce: want %d to %d random bytes in standard base64", minNonce, maxNonce)
	}
	if len(token) != sha256.Size {
		token = nil
	}
	return append(v2Header(ts, nonce), token...), inner, nil
}

// v2Header is the part of M before R.
func v2Header(ts int64, nonce []byte) []byte {
	h := make([]byte, 0, v2HeadBase+len(nonce))
	h = append(h, v2Domain...)
	h = binary.BigEndian.AppendUint64(h, uint64(ts))
	h = append(h, byte(len(nonce)))
	return append(h, nonce...)
}

// v2Credential splits a v2 credential into header, ts, nonce and MAC; ok
// is false for a CFSSL token (32 bytes or none, while a v2 credential is
// at least v2HeadBase+minNonce).
func v2Credential(cred []byte) (head []byte, ts int64, nonce, mac []byte, ok bool) {
	if len(cred) < v2HeadBase+minNonce || string(cred[:len(v2Domain)]) != v2Domain {
		return nil, 0, nil, nil, false
	}
	ts = int64(binary.BigEndian.Uint64(cred[len(v2Domain):]))
	n := int(cred[v2HeadBase-1])
	if len(cred) < v2HeadBase+n {
		return nil, 0, nil, nil, false
	}
	head = cred[:v2HeadBase+n]
	return head, ts, cred[v2HeadBase : v2HeadBase+n], cred[v2HeadBase+n:], true
}

func isJSONString(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] == '"'
}

// Token returns CFSSL's authsign token for the inner request bytes under key:
// standard base64 of HMAC-SHA256(key, request).
func Token(key, request []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(request)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TokenV2 returns the v2 token for request at ts with nonce under key.
func TokenV2(key []byte, ts int64, nonce, request []byte) string {
	return Token(key, append(v2Header(ts, nonce), request...))
}

// validToken reports whether token is HMAC-SHA256(key, request) for one of
// keys, compared in constant time.
func validToken(token, request []byte, keys ...[]byte) bool {
	return matchKey(token, request, keys) != nil
}

// matchKey returns the key of keys under which token is the MAC of
// request, or nil. Every key is tried, compared in constant time.
func matchKey(token, request []byte, keys [][]byte) []byte {
	if len(token) != sha256.Size {
		return nil
	}
	var found []byte
	for _, k := range keys {
		if len(k) == 0 {
			continue
		}
		m := hmac.New(sha256.New, k)
		m.Write(request)
		if hmac.Equal(m.Sum(nil), token) && found == nil {
			found = k
		}
	}
	return found
}

// keyring is a profile's token keys with its token policy.
type keyring struct {
	keys [][]byte
	// replayProtection: only v2 tokens are accepted.
	replayProtection bool
}

// profileKeys returns the key material of p's auth_key and prev_auth_key
// for the CA label (none when p has none configured), and whether p
// requires v2 tokens.
func (s *Server) profileKeys(label string, p *profile.Profile) keyring {
	keys := s.authKeys[label]
	kr := keyring{replayProtection: p.AuthReplayProtection}
	for _, name := range []string{p.AuthKey, p.PrevAuthKey} {
		if name == "" {
			continue
		}
		if k, ok := keys[name]; ok && len(k.Key) > 0 {
			kr.keys = append(kr.keys, k.Key)
		}
	}
	return kr
}

// checkToken verifies a credential from unwrap or decodeWrapper against
// keys (in CFSSL's order: current key, then the previous one): a
// profile's keyring, or the key material of an endpoint key. Every token-accepting endpoint comes through here, so the
// v2 replay check covers them all. Errors (400 unless noted): no keys (`no
// authentication provider`), a CFSSL token where the profile requires v2,
// a MAC that does not verify (`invalid token`), a v2 ts outside
// replayWindow, a replayed v2 nonce; 503 when the nonce cache is full.
func checkToken[K [][]byte | keyring](cache *nonceCache, token, request []byte, keys K) error {
	var kr keyring
	switch k := any(keys).(type) {
	case [][]byte:
		kr.keys = k
	case keyring:
		kr = k
	}
	return verifyToken(token, request, kr, cache, time.Now())
}

// verifyToken is checkToken with its cache and clock.
func verifyToken(cred, request []byte, kr keyring, cache *nonceCache, now time.Time) error {
	if len(kr.keys) == 0 {
		return badRequest("no authentication provider")
	}
	head, ts, nonce, mac, v2 := v2Credential(cred)
	if !v2 {
		if kr.replayProtection {
			return badRequest("invalid token: this profile requires the replay-resistant token format (pkid_auth %q with ts and nonce)", AuthVersion)
		}
		if matchKey(cred, request, kr.keys) == nil {
			return badRequest("invalid token")
		}
		return nil
	}
	key := matchKey(mac, append(head[:len(head):len(head)], request...), kr.keys)
	if key == nil {
		return badRequest("invalid token")
	}
	// Differences as uint64 cannot overflow, whatever ts a client sends.
	window := int64(replayWindow / time.Second)
	switch t := now.Unix(); {
	case ts < t && uint64(t)-uint64(ts) > uint64(window):
		return badRequest("invalid token: its timestamp is stale (more than %v before the server's clock)", replayWindow)
	case ts > t && uint64(ts)-uint64(t) > uint64(window):
		return badRequest("invalid token: its timestamp is in the future (more than %v after the server's clock)", replayWindow)
	}
	expiry := ts + window
	if expiry < ts {
		expiry = math.MaxInt64
	}
	// The nonce is remembered per key, and only once the MAC verified, so
	// no one without the key can fill the cache or burn others' nonces.
	var id [32]byte
	m := hmac.New(sha256.New, key)
	m.Write([]byte("pkid-auth-v2 nonce\x00"))
	m.Write(nonce)
	m.Sum(id[:0])
	return cache.add(id, expiry, now.Unix())
}
