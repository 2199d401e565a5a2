package server

import (
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
)

// signBody is the sign request; authsign's inner document adds the
// fields honoured only there (extensions, crl_override, validity, metadata).
type signBody struct {
	CertificateRequest string       `json:"certificate_request"`
	Hosts              []string     `json:"hosts"`
	Hostname           string       `json:"hostname"`
	Subject            *subjectBody `json:"subject"`
	Profile            string       `json:"profile"`
	Label              string       `json:"label"`
	Serial             json.Number  `json:"serial"`
	Bundle             bool         `json:"bundle"`

	Extensions  []extensionBody `json:"extensions"`
	CRLOverride string          `json:"crl_override"`
	NotBefore   time.Time       `json:"NotBefore"`
	NotAfter    time.Time       `json:"NotAfter"`
	Metadata    json.RawMessage `json:"metadata"`
}

// subjectBody is the sign request's subject override.
type subjectBody struct {
	CN           string     `json:"CN"`
	Names        []csr.Name `json:"names"`
	SerialNumber string     `json:"SerialNumber"`
}

// extensionBody is one requested extension (CFSSL signer.Extension).
type extensionBody struct {
	ID       string `json:"id"`
	Critical bool   `json:"critical"`
	Value    string `json:"value"`
}

// selected is a request's CA and profile.
type selected struct {
	iss     *ca.Issuer
	label   string
	profile *profile.Profile
}

// selectCA resolves label and profile name: unknown label → 400 `bad
// label`, unknown profile → 5400 (docs/differences-from-cfssl.md,
// "Unknown profiles are errors").
func (s *Server) selectCA(c *call, label, profileName string) (*selected, error) {
	iss, err := s.opts.CAs.GetOrDefault(label)
	if err != nil {
		if errors.Is(err, authority.ErrNoCA) {
			return nil, badRequest("bad label")
		}
		return nil, err
	}
	c.label, c.profile = iss.Label(), profileName
	p, err := iss.Profiles().Lookup(profileName)
	if err != nil {
		return nil, codedError(ca.CodeUnknownProfile, "Unknown policy profile %q", profileName)
	}
	return &selected{iss: iss, label: iss.Label(), profile: p}, nil
}

// sign serves /sign, accepting the token wrapper.
func (s *Server) sign(c *call) (*reply, error) {
	token, inner, wrapped, err := unwrap(c.body)
	if err != nil {
		return nil, err
	}
	var req signBody
	if err := decodeJSON(inner, &req); err != nil {
		return nil, badRequest("Unable to parse sign request: %v", err)
	}
	if strings.TrimSpace(req.CertificateRequest) == "" {
		return nil, badRequest("missing parameter 'certificate_request'")
	}
	sel, err := s.selectCA(c, req.Label, req.Profile)
	if err != nil {
		return nil, err
	}
	switch {
	case wrapped:
		if err := checkToken(s.nonces, token, inner, s.profileKeys(sel.label, sel.profile)); err != nil {
			return nil, err
		}
	case sel.profile.AuthKey != "" || s.authOn:
		if !s.clientAuthorised(c) {
			return nil, badRequest("authentication required")
		}
	}
	sr, err := req.signRequest(false)
	if err != nil {
		return nil, err
	}
	return s.issue(c, sel, sr, req.Bundle)
}

// authsign serves /authsign: the token is checked before the request.
func (s *Server) authsign(c *call) (*reply, error) {
	var w wrapper
	if err := decodeJSON(c.body, &w); err != nil {
		return nil, badRequest("%v", err)
	}
	token, inner, err := decodeWrapper(&w)
	if err != nil {
		return nil, err
	}
	var req signBody
	if err := decodeJSON(inner, &req); err != nil {
		return nil, badRequest("Unable to parse authenticated sign request: %v", err)
	}
	sel, err := s.selectCA(c, req.Label, req.Profile)
	if err != nil {
		return nil, err
	}
	if err := checkToken(s.nonces, token, inner, s.profileKeys(sel.label, sel.profile)); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.CertificateRequest) == "" {
		return nil, badRequest("missing parameter 'certificate_request'")
	}
	sr, err := req.signRequest(true)
	if err != nil {
		return nil, err
	}
	return s.issue(c, sel, sr, req.Bundle)
}

// issue signs and builds sign's result.
func (s *Server) issue(c *call, sel *selected, sr ca.SignRequest, bundle bool) (*reply, error) {
	sr.Profile, sr.Resolved = c.profile, sel.profile
	cert, err := sel.iss.Sign(c.r.Context(), sr)
	if err != nil {
		return nil, err
	}
	c.obs.issued = cert.Cert
	result := map[string]any{"certificate": string(cert.PEM())}
	if len(cert.SCTs) > 0 {
		// A profile with a ct block: the SCTs embedded in the certificate,
		// also listed (log, log ID, timestamp, TLS-encoded SCT) so a
		// client need not parse the extension (docs/ct.md).
		result["scts"] = cert.SCTs
	}
	rep := &reply{result: result}
	if bundle {
		s.attachBundle(c.r.Context(), rep, result, cert.Cert, sel.iss.Certificate())
	}
	return rep, nil
}

// noBundler is the advisory for bundle:true: a success with a 5300 message, as in CFSSL.
var noBundler = message{Code: ca.CodePolicyViolation, Message: "no bundler is configured: the certificate is returned without a bundle"}

// maxCRLOverride bounds authsign's crl_override (a URL in every
// certificate it is given for).
const maxCRLOverride = 2048

// signRequest converts the body; full also takes authsign's extensions,
// CRL override, validity and metadata.
func (b *signBody) signRequest(full bool) (ca.SignRequest, error) {
	sr := ca.SignRequest{CSR: []byte(b.CertificateRequest), Hosts: b.Hosts}
	if hs := csr.SplitHostname(b.Hostname); len(hs) > 0 {
		sr.Hosts = hs
	}
	if b.Subject != nil {
		sr.Subject = &ca.Subject{CN: b.Subject.CN, Names: b.Subject.Names, SerialNumber: b.Subject.SerialNumber}
	}
	if b.Serial != "" {
		n, ok := new(big.Int).SetString(b.Serial.String(), 10)
		if !ok {
			return sr, badRequest("field \"serial\": %q is not an integer", b.Serial.String())
		}
		sr.Serial = n
	}
	if !full {
		return sr, nil
	}
	sr.NotBefore, sr.NotAfter = b.NotBefore, b.NotAfter
	if b.CRLOverride != "" {
		if u, err := url.Parse(b.CRLOverride); err != nil || !u.IsAbs() || u.Host == "" || len(b.CRLOverride) > maxCRLOverride {
			return sr, badRequest("crl_override: not an absolute URL of at most %d bytes", maxCRLOverride)
		}
		sr.CRLOverride = b.CRLOverride
	}
	if m := strings.TrimSpace(string(b.Metadata)); m != "" && m != "null" {
		sr.Metadata = b.Metadata
	}
	for i, e := range b.Extensions {
		oid, err := csr.ParseOID(e.ID)
		if err != nil {
			return sr, badRequest("extensions[%d].id: %v", i, err)
		}
		v, err := hex.DecodeString(e.Value)
		if err != nil {
			return sr, badRequest("extensions[%d].value: not hex DER", i)
		}
		sr.Extensions = append(sr.Extensions, pkix.Extension{Id: oid, Critical: e.Critical, Value: v})
	}
	return sr, nil
}
