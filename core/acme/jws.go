package acme

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Algorithms are the JWS algorithms accepted on requests.
var Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256, jose.EdDSA}

func algorithmNames() []string {
	var out []string
	for _, a := range Algorithms {
		out = append(out, string(a))
	}
	return out
}

// MaxRequestBytes bounds a request body: a CSR with many names and a
// 4096-bit RSA key fits many times over.
const MaxRequestBytes = 64 << 10

// envelope is a parsed, not yet verified, request JWS.
type envelope struct {
	jws   *jose.JSONWebSignature
	alg   string
	nonce string
	url   string
	kid   string
	jwk   *jose.JSONWebKey
}

// parseEnvelope parses a request body: the flattened JSON serialization
// with one signature whose header is entirely protected, carrying alg,
// nonce, url and exactly one of jwk and kid (RFC 8555 section 6.2). It
// checks no signature and consumes no nonce. Errors are problems:
// badSignatureAlgorithm for an algorithm outside Algorithms, malformed for
// everything else.
func parseEnvelope(body []byte) (*envelope, *problem) {
	if len(body) > MaxRequestBytes {
		return nil, newProblem(http.StatusRequestEntityTooLarge, ProbMalformed, "request body larger than %d bytes", MaxRequestBytes)
	}
	var raw struct {
		Protected  string          `json:"protected"`
		Payload    *string         `json:"payload"`
		Signature  string          `json:"signature"`
		Header     json.RawMessage `json:"header"`
		Signatures json.RawMessage `json:"signatures"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, malformed("the body is not a flattened JWS: %v", err)
	}
	if raw.Signatures != nil {
		return nil, malformed("the JWS must use the flattened serialization with one signature")
	}
	if raw.Header != nil {
		return nil, malformed("the JWS has an unprotected header; every header parameter must be protected")
	}
	if raw.Payload == nil || raw.Protected == "" || raw.Signature == "" {
		return nil, malformed("the JWS needs protected, payload and signature")
	}
	hdrJSON, err := base64.RawURLEncoding.DecodeString(raw.Protected)
	if err != nil {
		return nil, malformed("the protected header is not base64url")
	}
	var hdr struct {
		Alg   string          `json:"alg"`
		Nonce string          `json:"nonce"`
		URL   string          `json:"url"`
		Kid   string          `json:"kid"`
		JWK   json.RawMessage `json:"jwk"`
		B64   json.RawMessage `json:"b64"`
		Crit  json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return nil, malformed("the protected header is not a JSON object: %v", err)
	}
	if !slices.Contains(algorithmNames(), hdr.Alg) {
		p := newProblem(http.StatusBadRequest, ProbBadSignatureAlgorithm, "the JWS algorithm %q is not supported", hdr.Alg)
		p.Algorithms = algorithmNames()
		return nil, p
	}
	switch {
	case hdr.B64 != nil || hdr.Crit != nil:
		// RFC 8555 section 6.2: the payload is base64url; an unencoded
		// payload (RFC 7797) or another critical extension is not ACME.
		return nil, malformed("the JWS header has b64 or crit; ACME requests use neither")
	case hdr.Kid != "" && hdr.JWK != nil:
		return nil, malformed("the JWS header has both jwk and kid; exactly one is allowed")
	case hdr.Kid == "" && hdr.JWK == nil:
		return nil, malformed("the JWS header has neither jwk nor kid")
	case hdr.URL == "":
		return nil, malformed("the JWS header has no url")
	}
	if hdr.JWK != nil {
		// Judge the key first, so an unacceptable one (private parts,
		// a size or curve go-jose does not take) is badPublicKey.
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(hdr.JWK); err != nil {
			return nil, newProblem(http.StatusBadRequest, ProbBadPublicKey, "the jwk is not an acceptable public key: %v", err)
		}
		if !k.IsPublic() {
			return nil, newProblem(http.StatusBadRequest, ProbBadPublicKey, "the jwk has private key parameters")
		}
		if p := checkKey(k.Key, hdr.Alg); p != nil {
			return nil, p
		}
	}
	jws, err := jose.ParseSignedJSON(string(body), Algorithms)
	if err != nil {
		return nil, malformed("parsing the JWS: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, malformed("the JWS must have exactly one signature")
	}
	env := &envelope{jws: jws, alg: hdr.Alg, nonce: hdr.Nonce, url: hdr.URL, kid: hdr.Kid}
	if hdr.JWK != nil {
		env.jwk = jws.Signatures[0].Protected.JSONWebKey
		if env.jwk == nil || !env.jwk.Valid() || !env.jwk.IsPublic() {
			return nil, newProblem(http.StatusBadRequest, ProbBadPublicKey, "the jwk is not a valid public key")
		}
		if p := checkKey(env.jwk.Key, hdr.Alg); p != nil {
			return nil, p
		}
	}
	return env, nil
}

// verify checks the signature with key and returns the payload.
func (e *envelope) verify(key *jose.JSONWebKey) ([]byte, *problem) {
	if p := checkKey(key.Key, e.alg); p != nil {
		return nil, p
	}
	payload, err := e.jws.Verify(key)
	if err != nil {
		return nil, authProblem(malformed("JWS verification error: the signature does not match the account key"))
	}
	return payload, nil
}

// checkKey accepts RSA keys of 2048 to 4096 bits, ECDSA P-256 and P-384
// and Ed25519, each with its own algorithm.
func checkKey(k crypto.PublicKey, alg string) *problem {
	bad := func(format string, a ...any) *problem {
		return newProblem(http.StatusBadRequest, ProbBadPublicKey, format, a...)
	}
	mismatch := func(kind string) *problem {
		p := newProblem(http.StatusBadRequest, ProbBadSignatureAlgorithm, "algorithm %q does not go with a %s key", alg, kind)
		p.Algorithms = algorithmNames()
		return p
	}
	switch k := k.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 4096 {
			return bad("RSA keys must have 2048 to 4096 bits, not %d", n)
		}
		if alg != string(jose.RS256) {
			return mismatch("RSA")
		}
	case *ecdsa.PublicKey:
		switch {
		case k.Curve == elliptic.P256() && alg == string(jose.ES256), k.Curve == elliptic.P384() && alg == string(jose.ES384):
		case k.Curve != elliptic.P256() && k.Curve != elliptic.P384():
			return bad("ECDSA keys must use P-256 or P-384")
		default:
			return mismatch("ECDSA " + k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		if alg != string(jose.EdDSA) {
			return mismatch("Ed25519")
		}
	default:
		return bad("unsupported key type %T", k)
	}
	return nil
}

// thumbprint is base64url of the key's RFC 7638 SHA-256 thumbprint.
func thumbprint(k *jose.JSONWebKey) (string, error) {
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// idFromURL returns the last path segment of u after prefix ("" when u
// is not under prefix).
func idFromURL(u, prefix string) string {
	rest, ok := strings.CutPrefix(u, prefix)
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return ""
	}
	return rest
}
