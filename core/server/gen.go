package server

import (
	"crypto"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
)

// Codes of the key and subject errors of the generating endpoints.
const (
	codeKeyGeneration = 2400
)

// Sum is the fingerprints of a DER object: uppercase hex digests.
type Sum struct {
	MD5    string `json:"md5"`
	SHA1   string `json:"sha-1"`
	SHA256 string `json:"sha-256"`
}

// sumOf returns the Sum of the first PEM block's DER in pemData.
func sumOf(pemData []byte) Sum {
	var der []byte
	if b, _ := pem.Decode(pemData); b != nil {
		der = b.Bytes
	}
	return Sum{
		MD5:    fmt.Sprintf("%X", md5.Sum(der)),
		SHA1:   fmt.Sprintf("%X", sha1.Sum(der)),
		SHA256: fmt.Sprintf("%X", sha256.Sum256(der)),
	}
}

// parseKeyRequest decodes a csr.json document: malformed or mistyped JSON
// → 400 naming the field, a bad key request → 2400, a missing subject →
// 5300 (CFSSL's generator validator).
func parseKeyRequest(data []byte) (*csr.Request, error) {
	if strings.TrimSpace(string(data)) == "" || strings.TrimSpace(string(data)) == "null" {
		return nil, badRequest("empty request")
	}
	req, err := csr.Parse(data)
	if err != nil {
		probe := struct {
			Key *csr.KeyRequest `json:"key"`
		}{Key: csr.DefaultKeyRequest()}
		if json.Unmarshal(data, &probe) == nil && probe.Key != nil && probe.Key.Validate() != nil {
			return nil, codedError(codeKeyGeneration, "%v", err)
		}
		return nil, badRequest("%v", err)
	}
	if req.CN == "" {
		if len(req.Names) == 0 {
			return nil, codedError(ca.CodePolicyViolation, "missing subject information")
		}
		for _, n := range req.Names {
			if n.C == "" && n.ST == "" && n.L == "" && n.O == "" && n.OU == "" {
				return nil, codedError(ca.CodePolicyViolation, "empty name")
			}
		}
	}
	return req, nil
}

// retryAfterSeconds is the Retry-After of a 429: about one RSA-4096
// generation.
const retryAfterSeconds = 2

// generate makes the key and CSR of req within the limits: an RSA key
// larger than limits.MaxRSABits → 400/2400; limits.MaxKeyGenerations
// already running → 429 at once (queueing would let a flood hold every
// connection).
func (s *Server) generate(req *csr.Request) (key crypto.Signer, keyPEM, csrPEM []byte, err error) {
	if kr := req.KeyRequest; kr != nil && kr.Algo == csr.AlgoRSA && kr.Size > s.limits.MaxRSABits {
		return nil, nil, nil, codedError(codeKeyGeneration, "key: rsa size %d exceeds this server's limit of %d bits (limits max_rsa_bits)",
			kr.Size, s.limits.MaxRSABits)
	}
	select {
	case s.keygen <- struct{}{}:
	default:
		return nil, nil, nil, requestError(http.StatusTooManyRequests,
			"too many key generations in progress (at most %d at once, limits max_key_generations): retry later", s.limits.MaxKeyGenerations)
	}
	key, err = func() (crypto.Signer, error) {
		defer func() { <-s.keygen }()
		return s.genKey(req.KeyRequest)
	}()
	if err != nil {
		return nil, nil, nil, codedError(codeKeyGeneration, "%v", err)
	}
	if keyPEM, err = csr.EncodePrivateKey(key); err != nil {
		return nil, nil, nil, err
	}
	csrPEM, err = csr.Generate(req, key)
	if err != nil {
		if errors.Is(err, csr.ErrInvalid) {
			return nil, nil, nil, badRequest("%v", err)
		}
		return nil, nil, nil, err
	}
	return key, keyPEM, csrPEM, nil
}

// newkeyResult is newkey's result, in CFSSL's key order.
type newkeyResult struct {
	PrivateKey         string         `json:"private_key"`
	CertificateRequest string         `json:"certificate_request"`
	Sums               map[string]Sum `json:"sums"`
}

// newkey serves /newkey: a key and CSR, returned to the caller.
// Once authentication is configured it needs it (docs/differences-from-cfssl.md,
// "Authentication applies everywhere"), as key generation
// is the daemon's most expensive work.
func (s *Server) newkey(c *call) (*reply, error) {
	token, inner, wrapped, err := unwrap(c.body)
	if err != nil {
		return nil, err
	}
	if err := s.endpointAuth(c, "newkey", token, inner, wrapped); err != nil {
		return nil, err
	}
	req, err := parseKeyRequest(inner)
	if err != nil {
		return nil, err
	}
	if req.CA != nil {
		return nil, badRequest("ca section only permitted in initca")
	}
	_, keyPEM, csrPEM, err := s.generate(req)
	if err != nil {
		return nil, err
	}
	return &reply{result: newkeyResult{
		PrivateKey:         string(keyPEM),
		CertificateRequest: string(csrPEM),
		Sums:               map[string]Sum{"certificate_request": sumOf(csrPEM)},
	}}, nil
}

// newcertBody is the newcert request.
type newcertBody struct {
	Request json.RawMessage `json:"request"`
	Profile string          `json:"profile"`
	Label   string          `json:"label"`
	Bundle  bool            `json:"bundle"`
}

// noHosts is the advisory for a certificate without hosts: a success with a 5300 message, as in CFSSL.
var noHosts = message{Code: ca.CodePolicyViolation, Message: "the request has no hosts, so the certificate has no subject alternative names and is unsuitable for web servers"}

// newcert serves /newcert: key, CSR and certificate in one call.
func (s *Server) newcert(c *call) (*reply, error) {
	token, inner, wrapped, err := unwrap(c.body)
	if err != nil {
		return nil, err
	}
	var body newcertBody
	if err := decodeJSON(inner, &body); err != nil {
		return nil, badRequest("Unable to parse newcert request: %v", err)
	}
	if r := strings.TrimSpace(string(body.Request)); r == "" || r == "null" {
		return nil, badRequest("missing request section")
	}
	sel, err := s.selectCA(c, body.Label, body.Profile)
	if err != nil {
		return nil, err
	}
	switch {
	case wrapped:
		if err := checkToken(s.nonces, token, inner, s.profileKeys(sel.label, sel.profile)); err != nil {
			return nil, err
		}
	case s.authOn:
		if !s.clientAuthorised(c) {
			return nil, badRequest("authentication required")
		}
	}
	req, err := parseKeyRequest(body.Request)
	if err != nil {
		return nil, err
	}
	if req.CA != nil {
		return nil, badRequest("ca section only permitted in initca")
	}
	_, keyPEM, csrPEM, err := s.generate(req)
	if err != nil {
		return nil, err
	}
	cert, err := sel.iss.Sign(c.r.Context(), ca.SignRequest{CSR: csrPEM, Profile: body.Profile, Resolved: sel.profile})
	if err != nil {
		return nil, err
	}
	c.obs.issued = cert.Cert
	certPEM := cert.PEM()
	rep := &reply{result: map[string]any{
		"certificate":         string(certPEM),
		"certificate_request": string(csrPEM),
		"private_key":         string(keyPEM),
		"sums": map[string]Sum{
			"certificate":         sumOf(certPEM),
			"certificate_request": sumOf(csrPEM),
		},
	}}
	if len(req.Hosts) == 0 {
		rep.messages = append(rep.messages, noHosts)
	}
	if body.Bundle {
		s.attachBundle(c.r.Context(), rep, rep.result.(map[string]any), cert.Cert, sel.iss.Certificate())
	}
	return rep, nil
}

// initCAResult is init_ca's result, in CFSSL's key order.
type initCAResult struct {
	PrivateKey  string `json:"private_key"`
	Certificate string `json:"certificate"`
}

// initCA serves /init_ca: a new self-signed root and its key,
// returned to the caller (never stored). Authentication as newkey.
func (s *Server) initCA(c *call) (*reply, error) {
	token, inner, wrapped, err := unwrap(c.body)
	if err != nil {
		return nil, err
	}
	if err := s.endpointAuth(c, "init_ca", token, inner, wrapped); err != nil {
		return nil, err
	}
	req, err := parseKeyRequest(inner)
	if err != nil {
		return nil, err
	}
	// Refuse a pathlen over the limit before spending a key generation.
	if req.CA != nil && req.CA.PathLength > s.limits.MaxPathLen {
		return nil, codedError(ca.CodeInvalidPolicy, "ca.pathlen %d exceeds the limit %d (limits.max_path_len)", req.CA.PathLength, s.limits.MaxPathLen)
	}
	key, keyPEM, _, err := s.generate(req)
	if err != nil {
		return nil, err
	}
	cert, _, err := ca.InitCA(c.r.Context(), ca.InitCARequest{Request: req, Signer: key, MaxPathLen: s.limits.MaxPathLen})
	if err != nil {
		return nil, err
	}
	return &reply{result: initCAResult{PrivateKey: string(keyPEM), Certificate: string(cert.PEM())}}, nil
}
