package scanchecks

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/pkid/pkid/sdk"
	"golang.org/x/crypto/ocsp"
)

// Bounds on revocation fetches: a certificate names the URLs, so whoever
// made it chooses what the scanner downloads.
const (
	maxOCSPResponse = 64 << 10
	maxCRL          = 8 << 20
	fetchTimeout    = 5 * time.Second
)

type revStatus struct {
	revoked bool
	source  string // "OCSP" or "CRL"
	err     error  // the check could not be made
	none    bool   // the certificate names no responder or CRL
}

// revocationStatus asks cert's OCSP responders, then its CRLs; the first
// definite answer wins.
func (c *checker) revocationStatus(ctx context.Context, cert, issuer *x509.Certificate) revStatus {
	if len(cert.OCSPServer) == 0 && len(cert.CRLDistributionPoints) == 0 {
		return revStatus{none: true}
	}
	var errs []error
	for _, u := range cert.OCSPServer {
		st, err := c.queryOCSP(ctx, u, cert, issuer)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return revStatus{revoked: st == ocsp.Revoked, source: "OCSP"}
	}
	for _, u := range cert.CRLDistributionPoints {
		revoked, err := c.checkCRL(ctx, u, cert, issuer)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return revStatus{revoked: revoked, source: "CRL"}
	}
	return revStatus{err: errors.Join(errs...)}
}

func (c *checker) fetch(ctx context.Context, method, u string, body []byte, ctype string, limit int64) ([]byte, error) {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") {
		return nil, fmt.Errorf("revocation URL %q is not http(s)", u)
	}
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(fctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: HTTP %d", u, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s sent more than %d bytes", u, limit)
	}
	return b, nil
}

func (c *checker) queryOCSP(ctx context.Context, u string, cert, issuer *x509.Certificate) (int, error) {
	req, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return 0, fmt.Errorf("OCSP request: %w", err)
	}
	b, err := c.fetch(ctx, http.MethodPost, u, req, "application/ocsp-request", maxOCSPResponse)
	if err != nil {
		return 0, err
	}
	resp, err := ocsp.ParseResponseForCert(b, cert, issuer)
	if err != nil {
		return 0, fmt.Errorf("OCSP response from %s: %w", u, err)
	}
	if resp.Status == ocsp.Unknown {
		return 0, fmt.Errorf("OCSP responder %s does not know the certificate", u)
	}
	return resp.Status, nil
}

func (c *checker) checkCRL(ctx context.Context, u string, cert, issuer *x509.Certificate) (bool, error) {
	b, err := c.fetch(ctx, http.MethodGet, u, nil, "", maxCRL)
	if err != nil {
		return false, err
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return false, fmt.Errorf("CRL from %s: %w", u, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return false, fmt.Errorf("CRL from %s is not signed by the issuer: %w", u, err)
	}
	if !crl.NextUpdate.IsZero() && c.now().After(crl.NextUpdate) {
		return false, fmt.Errorf("CRL from %s is stale (next update %s)", u, crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	for _, r := range crl.RevokedCertificateEntries {
		if r.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return true, nil
		}
	}
	return false, nil
}

func revocation(ctx context.Context, e *env) error {
	chain, ok, err := leafChain(ctx, e)
	if !ok {
		return err
	}
	if len(chain) < 2 {
		return e.emit(sdk.GradeSkipped, "the host sends no issuer certificate to check the leaf against", nil)
	}
	if !e.c.revocation {
		return e.emit(sdk.GradeSkipped, "revocation fetches are off (fetch_revocation = false)", nil)
	}
	st := e.c.revocationStatus(ctx, chain[0], chain[1])
	switch {
	case st.none:
		return e.emit(sdk.GradeSkipped, "the leaf names no OCSP responder or CRL", nil)
	case st.err != nil:
		return e.emit(sdk.GradeWarning, "revocation check failed: "+st.err.Error(), nil)
	case st.revoked:
		return e.emit(sdk.GradeBad, "the leaf is revoked ("+st.source+")", map[string]string{"status": "revoked", "source": st.source})
	}
	return e.emit(sdk.GradeGood, "", map[string]string{"status": "good", "source": st.source})
}

func ocspStapling(ctx context.Context, e *env) error {
	cfg := e.c.tlsConfig(e.t, false)
	st, err := e.c.goHandshake(ctx, e.addr(), cfg)
	if err != nil {
		return e.fail(err)
	}
	if len(st.OCSPResponse) == 0 {
		return e.emit(sdk.GradeWarning, "no OCSP response stapled", nil)
	}
	var issuer *x509.Certificate
	if len(st.PeerCertificates) > 1 {
		issuer = st.PeerCertificates[1]
	}
	resp, err := ocsp.ParseResponseForCert(st.OCSPResponse, st.PeerCertificates[0], issuer)
	if err != nil {
		return e.emit(sdk.GradeBad, "stapled OCSP response is invalid: "+err.Error(), nil)
	}
	out := map[string]string{"status": ocspStatusName(resp.Status), "next_update": resp.NextUpdate.UTC().Format(time.RFC3339)}
	switch {
	case resp.Status == ocsp.Revoked:
		return e.emit(sdk.GradeBad, "stapled OCSP response says the leaf is revoked", out)
	case resp.Status != ocsp.Good:
		return e.emit(sdk.GradeWarning, "stapled OCSP response status is "+out["status"], out)
	case !resp.NextUpdate.IsZero() && e.c.now().After(resp.NextUpdate):
		return e.emit(sdk.GradeWarning, "stapled OCSP response is stale", out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

func ocspStatusName(s int) string {
	switch s {
	case ocsp.Good:
		return "good"
	case ocsp.Revoked:
		return "revoked"
	}
	return "unknown"
}
