package server

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/sdk"
)

// renewBody is the renew request: a CSR for the same names as the client
// certificate the request arrives with.
type renewBody struct {
	CertificateRequest string `json:"certificate_request"`
}

// renew serves /renew (docs/transport.md, "The renew endpoint"): the
// client proves possession of its current certificate in the TLS
// handshake, and gets a new one for the same names under the same CA and
// profile. The certificate must be this daemon's (issued by one of its
// CAs and on record), unexpired and unrevoked, and admitted by the
// client_cert_policy entry of renew (or "*"). The TLS layer need not have
// verified it (the daemon requests client certificates without requiring
// them): renew verifies it against its own CAs. Errors: 403 for anything
// about the certificate, 400 for the CSR (names that differ, bad PEM).
func (s *Server) renew(c *call) (*reply, error) {
	cert, iss, rec, err := s.renewalClient(c)
	if err != nil {
		return nil, err
	}
	var req renewBody
	if err := decodeJSON(c.body, &req); err != nil {
		return nil, badRequest("Unable to parse renew request: %v", err)
	}
	if strings.TrimSpace(req.CertificateRequest) == "" {
		return nil, badRequest("missing parameter 'certificate_request'")
	}
	cr, err := csr.ParseCSR([]byte(req.CertificateRequest))
	if err != nil {
		return nil, codedError(ca.CodeCSRDecode, "bad certificate request: %v", err)
	}
	if err := sameNames(cert, cr); err != nil {
		return nil, err
	}
	c.label, c.profile = iss.Label(), rec.Profile
	p, err := iss.Profiles().Lookup(rec.Profile)
	if err != nil {
		return nil, requestError(http.StatusForbidden, "the certificate's profile %q is no longer configured", rec.Profile)
	}
	hosts := sansOf(cert)
	if hosts == nil {
		hosts = []string{} // no SANs: none in the new certificate either
	}
	sr := ca.SignRequest{CSR: []byte(req.CertificateRequest), Hosts: hosts, Profile: rec.Profile, Resolved: p,
		Subject: &ca.Subject{CN: cert.Subject.CommonName, Names: namesOf(cert.Subject)}}
	nc, err := iss.Sign(c.r.Context(), sr)
	if err != nil {
		return nil, err
	}
	return &reply{result: map[string]string{"certificate": string(nc.PEM())}}, nil
}

// renewalClient returns the client certificate of a renew request with
// its CA and record, after every check but the CSR's.
func (s *Server) renewalClient(c *call) (*x509.Certificate, *ca.Issuer, *sdk.CertRecord, error) {
	if c.r.TLS == nil || len(c.r.TLS.PeerCertificates) == 0 {
		return nil, nil, nil, requestError(http.StatusForbidden, "renew needs the current certificate as the TLS client certificate")
	}
	cert := c.r.TLS.PeerCertificates[0]
	iss := s.opts.CAs.ByAKI(hex.EncodeToString(cert.AuthorityKeyId))
	if iss == nil || cert.CheckSignatureFrom(iss.Certificate()) != nil {
		return nil, nil, nil, requestError(http.StatusForbidden, "the client certificate was not issued by a CA of this server")
	}
	now := time.Now()
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return nil, nil, nil, requestError(http.StatusForbidden, "the client certificate is not valid now (valid %s to %s): request a new one instead",
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if err := s.renewPolicy(cert); err != nil {
		return nil, nil, nil, err
	}
	store := iss.Store()
	if store == nil {
		store = s.opts.Store
	}
	if store == nil {
		return nil, nil, nil, requestError(http.StatusForbidden, "CA %q keeps no records, so its certificates cannot be renewed", iss.Label())
	}
	rec, err := store.Get(c.r.Context(), cert.SerialNumber.String(), iss.AKI())
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return nil, nil, nil, requestError(http.StatusForbidden, "the client certificate is not on record")
	case errors.Is(err, sdk.ErrUnavailable):
		return nil, nil, nil, &apiError{status: http.StatusServiceUnavailable, code: ca.CodeStoreUnavailable, msg: storeUnavailable(err), cause: err}
	case err != nil:
		return nil, nil, nil, err
	}
	if len(rec.DER) > 0 && !bytes.Equal(rec.DER, cert.Raw) {
		return nil, nil, nil, requestError(http.StatusForbidden, "the client certificate is not the one on record for its serial")
	}
	if rec.Status == sdk.StatusRevoked {
		return nil, nil, nil, requestError(http.StatusForbidden, "the client certificate is revoked")
	}
	return cert, iss, rec, nil
}

// renewPolicy applies client_cert_policy to a renewal: renew's own entry,
// else "*"; without either every certificate of the CA may renew itself.
func (s *Server) renewPolicy(cert *x509.Certificate) error {
	res, ok := s.policyFor("renew")
	if !ok || len(res) == 0 {
		return nil
	}
	for _, re := range res {
		if re.MatchString(cert.Subject.CommonName) {
			return nil
		}
	}
	return requestError(http.StatusForbidden, "Invalid CN %q for renew", cert.Subject.CommonName)
}

// sameNames refuses a CSR whose common name or SANs differ from cert's;
// empty ones stand for cert's.
func sameNames(cert *x509.Certificate, cr *x509.CertificateRequest) error {
	if cn := cr.Subject.CommonName; cn != "" && cn != cert.Subject.CommonName {
		return badRequest("renew keeps the names: the CSR's common name %q is not the certificate's %q", cn, cert.Subject.CommonName)
	}
	want, got := sansOf(cert), sansOf(&x509.Certificate{DNSNames: cr.DNSNames, IPAddresses: cr.IPAddresses,
		EmailAddresses: cr.EmailAddresses, URIs: cr.URIs})
	if len(got) == 0 {
		return nil
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		return badRequest("renew keeps the names: the CSR asks for %s, the certificate has %s", strings.Join(got, ","), strings.Join(want, ","))
	}
	return nil
}

// sansOf lists cert's SANs as sign's hosts.
func sansOf(cert *x509.Certificate) []string {
	var out []string
	out = append(out, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		out = append(out, ip.String())
	}
	out = append(out, cert.EmailAddresses...)
	for _, u := range cert.URIs {
		out = append(out, u.String())
	}
	return out
}

// namesOf keeps the first value of each subject attribute sign can set.
func namesOf(n pkix.Name) []csr.Name {
	first := func(v []string) string {
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	name := csr.Name{C: first(n.Country), ST: first(n.Province), L: first(n.Locality), O: first(n.Organization), OU: first(n.OrganizationalUnit)}
	if name.C+name.ST+name.L+name.O+name.OU == "" {
		return nil
	}
	return []csr.Name{name}
}
