package server

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/pkid/pkid/core/ca/certinfo"
	"github.com/pkid/pkid/sdk"
)

// CFSSL's certificate error codes (category 1000).
const (
	codeCertParse      = 1003
	codeRecordNotFound = 11200
)

// certinfo serves /certinfo: keyword sets {certificate}, {domain},
// {serial, authority_key_id}, first complete set wins.
func (s *Server) certinfo(c *call) (*reply, error) {
	m, err := decodeStringMap(c.body)
	if err != nil {
		return nil, err
	}
	var cert *x509.Certificate
	switch {
	case has(m, "certificate"):
		if cert, err = parseCertificate(m["certificate"]); err != nil {
			return nil, err
		}
	case has(m, "domain"):
		if cert, err = s.dialCertificate(c, m["domain"]); err != nil {
			return nil, err
		}
	case has(m, "serial", "authority_key_id"):
		if cert, err = s.storedCertificate(c, m["serial"], m["authority_key_id"]); err != nil {
			return nil, err
		}
	default:
		return nil, badRequest("no valid parameter sets found")
	}
	return &reply{result: certinfo.Certificate(cert)}, nil
}

// has reports whether m has every key.
func has(m map[string]string, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

// parseCertificate reads the first certificate of a PEM text.
func parseCertificate(s string) (*x509.Certificate, error) {
	data := []byte(strings.TrimSpace(s))
	for len(data) > 0 {
		b, rest := pem.Decode(data)
		if b == nil {
			break
		}
		data = rest
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, codedError(codeCertParse, "certificate parse failed: %v", err)
		}
		return cert, nil
	}
	return nil, codedError(codeCertParse, "certificate parse failed: no PEM certificate found")
}

// dialCertificate fetches the leaf served at domain (host[:port], 443).
func (s *Server) dialCertificate(c *call, domain string) (*x509.Certificate, error) {
	if s.opts.Dial == nil {
		return nil, requestError(http.StatusForbidden, "domain lookups are disabled on this server")
	}
	hostport := domain
	if _, _, err := net.SplitHostPort(domain); err != nil {
		hostport = net.JoinHostPort(strings.Trim(domain, "[]"), "443")
	}
	chain, err := s.opts.Dial(c.r.Context(), hostport)
	if err != nil {
		return nil, codedError(6000, "fetching the certificate of %s: %v", hostport, err)
	}
	if len(chain) == 0 {
		return nil, codedError(6000, "%s presented no certificate", hostport)
	}
	return chain[0], nil
}

// storedCertificate looks a certificate up in the store.
func (s *Server) storedCertificate(c *call, serial, aki string) (*x509.Certificate, error) {
	if s.opts.Store == nil {
		return nil, badRequest("serial lookups need a certificate store, and none is configured")
	}
	serial = strings.TrimSpace(serial)
	if serial == "" {
		return nil, badRequest("serial number is required but not provided")
	}
	rec, err := s.opts.Store.Get(c.r.Context(), serial, sdk.NormalizeAKI(aki))
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return nil, codedError(codeRecordNotFound, "no certificate found")
	case errors.Is(err, sdk.ErrInvalidArgument):
		return nil, badRequest("%v", err)
	case err != nil:
		return nil, err
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, err
	}
	return cert, nil
}
