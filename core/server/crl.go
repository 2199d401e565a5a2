package server

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/duration"
)

// defaultCRLValidity is crl's and gencrl's default nextUpdate distance
// (CFSSL: one week), and crl's for a CA without a crl block.
const defaultCRLValidity = 7 * 24 * time.Hour

// minCRLValidity is the shortest expiry crl accepts: CRL times have whole
// seconds, and shorter CRLs are stale before they arrive.
const minCRLValidity = time.Minute

// crl serves GET /crl: the full CRL of the labelled (or default) CA, per
// issuer (docs/differences-from-cfssl.md, "CRLs per issuer"), from the
// CA's certstore or else Options.Store. The
// endpoint is open (relying parties fetch it), so expiry is bounded: at
// least minCRLValidity, at most the CA's crl validity (its default).
func (s *Server) crl(c *call) (*reply, error) {
	q := c.r.URL.Query()
	iss, err := s.opts.CAs.GetOrDefault(q.Get("label"))
	if err != nil {
		if errors.Is(err, authority.ErrNoCA) {
			return nil, badRequest("bad label")
		}
		return nil, err
	}
	c.label = iss.Label()
	limit := defaultCRLValidity
	if b := s.opts.CAs.Blocks[iss.Label()]; b != nil && b.CRL != nil && b.CRL.Validity > 0 {
		limit = b.CRL.Validity
	}
	validity := limit
	if v := q.Get("expiry"); v != "" {
		d, err := duration.Parse(v)
		switch {
		case err != nil || d <= 0:
			return nil, badRequest("invalid expiry %q: want a Go duration such as 168h", v)
		case d < minCRLValidity:
			return nil, badRequest("expiry %q is too short: a CRL must be valid for at least %v", v, minCRLValidity)
		case d > limit:
			return nil, badRequest("expiry %q is longer than the CA %q's CRL validity of %v: ask for at most that", v, iss.Label(), limit)
		}
		validity = d
	}
	// The CA's own certstore wins; Options.Store serves CAs without one.
	store := iss.Store()
	if store == nil {
		store = s.opts.Store
	}
	if store == nil {
		return nil, badRequest("the CA %q has no certificate store, so it has no CRL", iss.Label())
	}
	der, err := iss.CRL(c.r.Context(), ca.CRLRequest{Validity: validity, Store: store})
	if err != nil {
		return nil, err
	}
	return &reply{result: base64.StdEncoding.EncodeToString(der)}, nil
}

// gencrlBody is the gencrl request.
type gencrlBody struct {
	Certificate  string   `json:"certificate"`
	SerialNumber []string `json:"serialNumber"`
	IssuingKey   string   `json:"issuingKey"`
	ExpireTime   string   `json:"expireTime"`
}

// gencrl serves POST /gencrl (off unless enabled:
// docs/differences-from-cfssl.md, "Opt-in endpoints"): a CRL
// signed with the key in the body, listing the given serials revoked now.
func (s *Server) gencrl(c *call) (*reply, error) {
	token, inner, wrapped, err := unwrap(c.body)
	if err != nil {
		return nil, err
	}
	var req gencrlBody
	if err := decodeJSON(inner, &req); err != nil {
		return nil, badRequest("Unable to parse gencrl request: %v", err)
	}
	if err := s.endpointAuth(c, "gencrl", token, inner, wrapped); err != nil {
		return nil, err
	}
	cert, err := parseOneCertificate(req.Certificate)
	if err != nil {
		return nil, badRequest("malformed certificate")
	}
	key, err := csr.ParsePrivateKey([]byte(req.IssuingKey))
	if err != nil {
		return nil, badRequest("malformed Private Key")
	}
	if !publicKeyMatches(cert, key) {
		return nil, codedError(ca.CodeKeyMismatch, "the issuing key does not match the certificate")
	}
	validity := defaultCRLValidity
	if v := strings.TrimSpace(req.ExpireTime); v != "" {
		n, err := strconv.ParseInt(v, 0, 32)
		if err != nil || n < 0 {
			return nil, badRequest("invalid expireTime %q: want seconds", req.ExpireTime)
		}
		if n > 0 {
			validity = time.Duration(n) * time.Second
		}
	}
	serials := make([]*big.Int, 0, len(req.SerialNumber))
	for _, sn := range req.SerialNumber {
		n, ok := new(big.Int).SetString(strings.TrimSpace(sn), 10)
		if !ok || n.Sign() < 0 {
			return nil, badRequest("invalid serial number %q: want a decimal number", sn)
		}
		serials = append(serials, n)
	}
	der, err := ca.SerialsCRL(c.r.Context(), cert, key, serials, validity)
	if err != nil {
		return nil, badRequest("cannot sign the CRL: %v", err)
	}
	return &reply{result: base64.StdEncoding.EncodeToString(der)}, nil
}

// endpointAuth guards a non-issuing endpoint (docs/differences-from-cfssl.md,
// "Authentication applies everywhere"): a token wrapper is
// checked against the key named for the endpoint; without one, once any
// authentication is configured, an authorised client certificate is needed.
func (s *Server) endpointAuth(c *call, name string, token, inner []byte, wrapped bool) error {
	switch {
	case wrapped:
		return checkToken(s.nonces, token, inner, s.endpointKeys(name))
	case s.authOn:
		if !s.clientAuthorised(c) {
			return badRequest("authentication required")
		}
	}
	return nil
}

// endpointKeys returns the key material named name: Options.AuthKeys, else
// the default CA's auth_keys.
func (s *Server) endpointKeys(name string) [][]byte {
	if k, ok := s.opts.AuthKeys[name]; ok && len(k.Key) > 0 {
		return [][]byte{k.Key}
	}
	if k, ok := s.authKeys[s.opts.CAs.Default][name]; ok && len(k.Key) > 0 {
		return [][]byte{k.Key}
	}
	return nil
}

// parseOneCertificate parses the first PEM certificate of s.
func parseOneCertificate(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

// publicKeyMatches reports whether key is the private half of cert's key.
func publicKeyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}
