// Package validation checks ACME challenges (http-01, dns-01, tls-alpn-01)
// and CAA (RFC 8659) from one network perspective, and corroborates the
// results of several perspectives (the primary and remote validators run
// as `pkid validator` processes) before the ACME server accepts a
// challenge. See docs/acme.md.
package validation

import "context"

// Challenge types.
const (
	HTTP01    = "http-01"
	DNS01     = "dns-01"
	TLSALPN01 = "tls-alpn-01"
)

// Identifier is an ACME identifier (RFC 8555 section 7.1.4).
type Identifier struct {
	Type  string `json:"type"` // "dns" or "ip"
	Value string `json:"value"`
}

// Request is one challenge to validate, with what CAA needs.
type Request struct {
	Type       string     `json:"type"`
	Identifier Identifier `json:"identifier"`
	Token      string     `json:"token"`
	// KeyAuthorization is token "." base64url(JWK thumbprint) (RFC 8555
	// section 8.1); each challenge type derives what it expects from it.
	KeyAuthorization string `json:"keyAuthorization"`
	// Wildcard is set when the order asked for "*." + Identifier.Value:
	// CAA then reads issuewild.
	Wildcard bool `json:"wildcard,omitempty"`
	// AccountURI and CAAIdentities feed CAA: the issuer domain names
	// that identify this CA in issue/issuewild records, and the account
	// URL for the accounturi parameter (RFC 8657).
	AccountURI    string   `json:"accountURI"`
	CAAIdentities []string `json:"caaIdentities"`
}

// Problem is an RFC 8555 problem (type urn:ietf:params:acme:error:...).
type Problem struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
}

// View is what one perspective saw.
type View struct {
	Perspective string `json:"perspective"`
	OK          bool   `json:"ok"`
	// Problem says why when OK is false (connection, unauthorized, dns,
	// caa, incorrectResponse, ...).
	Problem *Problem `json:"problem,omitempty"`
	// Addresses are the IPs this perspective resolved and contacted,
	// so a disagreement can be explained.
	Addresses []string `json:"addresses,omitempty"`
}

// Validator validates a challenge from one perspective. It always returns
// a View; a perspective that cannot be reached is a View with OK false and
// a problem naming it, never an error, so that corroboration can count it.
type Validator interface {
	Validate(ctx context.Context, req Request) View
}

// Decision is the corroborated outcome: OK when the primary and at least
// Quorum remote perspectives accepted. Views holds every perspective's
// view, primary first; Problem explains a refusal and names the
// perspectives that disagreed.
type Decision struct {
	OK      bool     `json:"ok"`
	Views   []View   `json:"views"`
	Problem *Problem `json:"problem,omitempty"`
}
