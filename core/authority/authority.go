// Package authority builds the CAs a configuration declares: for each `ca`
// block, an issuer whose key stays in its keystore plugin, with the CA
// certificate and chain from files, the block's profiles, and its
// certstore, so every certificate is recorded before it is returned.
package authority

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/sdk"
)

// Set is the configured CAs by label.
type Set struct {
	CAs map[string]*ca.Issuer
	// Default answers requests with an empty label: the first ca block
	// declared.
	Default string
	// Blocks are the ca blocks by label (CRL and OCSP settings).
	Blocks map[string]*config.CA
	// PublicURL is the base URL the CAs' OCSP, CRL and issuer URLs were
	// derived from ("" when none was known).
	PublicURL string
}

// Options tunes Build.
type Options struct {
	// PublicURL is the base URL of the daemon serving the CAs (e.g. its
	// listen address) used when the pkid block sets no public_url. Issued
	// certificates point their OCSP, CRL and CA-issuer URLs under it.
	PublicURL string
	// NoResponder ignores the ca blocks' delegated OCSP responders (to
	// issue their first certificate).
	NoResponder bool
}

// URLs returns where the daemon publishes the CA with label: its CRL, its
// delta CRL, its certificate and the OCSP responder. Explicit URLs of the
// ca's crl and ocsp blocks win over ones derived from the public URL.
func URLs(pk config.PkidBlock, publicURL string, c *config.CA) (crl, delta, issuer, ocsp string) {
	crlPath, ocspPath, caPath := orDefault(pk.CRLPath, config.DefaultCRLPath), orDefault(pk.OCSPPath, config.DefaultOCSPPath), orDefault(pk.CAPath, config.DefaultCAPath)
	if publicURL != "" {
		crl = publicURL + crlPath + "/" + c.Name + ".crl"
		delta = publicURL + crlPath + "/" + c.Name + "-delta.crl"
		issuer = publicURL + caPath + "/" + c.Name + ".crt"
		ocsp = publicURL + ocspPath
	}
	if c.CRL != nil && c.CRL.URL != "" {
		crl = c.CRL.URL
		delta = strings.TrimSuffix(crl, ".crl") + "-delta.crl"
	}
	if c.CRL != nil && c.CRL.DeltaURL != "" {
		delta = c.CRL.DeltaURL
	}
	if c.OCSP != nil && c.OCSP.URL != "" {
		ocsp = c.OCSP.URL
	}
	return crl, delta, issuer, ocsp
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Labels returns the CA labels, sorted.
func (s *Set) Labels() []string {
	var out []string
	for l := range s.CAs {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// ErrNoCA: the configuration declares no CA, or the label is unknown.
var ErrNoCA = errors.New("no such CA")

// Get returns the CA with label; "" picks the only CA when there is one.
func (s *Set) Get(label string) (*ca.Issuer, error) {
	if label == "" {
		if len(s.CAs) == 1 {
			for _, iss := range s.CAs {
				return iss, nil
			}
		}
		return nil, fmt.Errorf("%w: the configuration declares %d CAs (%v); choose one with -label", ErrNoCA, len(s.CAs), s.Labels())
	}
	return s.get(label)
}

// ByAKI returns the CA whose key identifier is aki (any case, colons
// allowed), or nil.
func (s *Set) ByAKI(aki string) *ca.Issuer {
	aki = sdk.NormalizeAKI(aki)
	for _, label := range s.Labels() {
		if iss := s.CAs[label]; iss.AKI() == aki {
			return iss
		}
	}
	return nil
}

// GetOrDefault is Get where "" means the default CA (the daemon's rule).
func (s *Set) GetOrDefault(label string) (*ca.Issuer, error) {
	if label == "" {
		label = s.Default
	}
	return s.get(label)
}

func (s *Set) get(label string) (*ca.Issuer, error) {
	iss, ok := s.CAs[label]
	if !ok {
		return nil, fmt.Errorf("%w: unknown CA label %q (configured: %v)", ErrNoCA, label, s.Labels())
	}
	return iss, nil
}

// publicKeysEqualPub compares public keys.
func publicKeysEqualPub(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// Build creates an issuer per `ca` block. Problems (missing key, missing or
// mismatched certificate file, bad profiles) come back as diagnostics at
// the block.
func Build(ctx context.Context, l *catalog.Loaded) (*Set, hcl.Diagnostics) {
	return BuildWith(ctx, l, Options{})
}

// BuildWith is Build with options.
func BuildWith(ctx context.Context, l *catalog.Loaded, opts Options) (*Set, hcl.Diagnostics) {
	set := &Set{CAs: map[string]*ca.Issuer{}, Blocks: map[string]*config.CA{}}
	set.PublicURL = strings.TrimRight(l.Config.Pkid.PublicURL, "/")
	if set.PublicURL == "" {
		set.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	}
	var diags hcl.Diagnostics
	for _, c := range l.Config.CAs {
		set.Blocks[c.Name] = c
		iss, ds := build(ctx, l, c, set.PublicURL, opts.NoResponder)
		diags = append(diags, ds...)
		if iss != nil {
			set.CAs[c.Name] = iss
			if set.Default == "" {
				set.Default = c.Name
			}
		}
	}
	return set, diags
}

func caDiag(c *config.CA, summary, detail string) *hcl.Diagnostic {
	rng := c.DefRange
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}
}

func build(ctx context.Context, l *catalog.Loaded, c *config.CA, publicURL string, noResponder bool) (*ca.Issuer, hcl.Diagnostics) {
	profiles, diags := profile.DecodeHCL(c.Profiles)
	if diags.HasErrors() {
		return nil, diags
	}
	ks, ok := l.KeyStores[c.KeyStore]
	if !ok {
		return nil, append(diags, caDiag(c, "Keystore not running", fmt.Sprintf("keystore %q of CA %q did not start", c.KeyStore, c.Name)))
	}
	signer, err := ca.KeyStoreSigner(ctx, ks, c.Key)
	if err != nil {
		detail := fmt.Sprintf("CA %q: %v.", c.Name, err)
		if errors.Is(err, sdk.ErrNotFound) {
			detail += fmt.Sprintf(" Create it with `pkid ca init -ca %s`.", c.Name)
		}
		return nil, append(diags, caDiag(c, "CA key unavailable", detail))
	}
	if c.Certificate == "" {
		return nil, append(diags, caDiag(c, "CA certificate not set", fmt.Sprintf("CA %q needs certificate = \"PATH\"; `pkid ca init -ca %s` writes it.", c.Name, c.Name)))
	}
	cert, err := readCertificate(c.Certificate)
	if err != nil {
		detail := fmt.Sprintf("CA %q: %v.", c.Name, err)
		if errors.Is(err, os.ErrNotExist) {
			detail += fmt.Sprintf(" Create it with `pkid ca init -ca %s`.", c.Name)
		}
		return nil, append(diags, caDiag(c, "CA certificate unavailable", detail))
	}
	var chain []*x509.Certificate
	if c.Chain != "" {
		if chain, err = ReadCertificates(c.Chain); err != nil {
			return nil, append(diags, caDiag(c, "CA chain unavailable", fmt.Sprintf("CA %q: %v.", c.Name, err)))
		}
	}
	var store sdk.CertStore
	if c.CertStore != "" {
		store = l.CertStores[c.CertStore]
	}
	lim := l.Config.Pkid.Limits.WithDefaults()
	icfg := ca.IssuerConfig{Label: c.Name, Certificate: cert, Chain: chain, Signer: signer, Profiles: profiles, Store: store,
		MaxSANs: lim.MaxSANs, MaxCertificateBytes: lim.MaxCertificateBytes, MaxPathLen: lim.MaxPathLen}
	icfg.CRLURL, _, icfg.IssuerURL, icfg.OCSPURL = URLs(l.Config.Pkid, publicURL, c)
	icfg.SCTs = ct.NewSource(ct.Options{}) // profiles with a ct block (docs/ct.md)
	if o := c.OCSP; o != nil {
		icfg.OCSPValidity = o.Validity
		if o.ResponderKey != "" && !noResponder {
			rs, err := ca.KeyStoreSigner(ctx, ks, o.ResponderKey)
			if err != nil {
				return nil, append(diags, caDiag(c, "OCSP responder key unavailable", fmt.Sprintf("CA %q: responder_key %q: %v.", c.Name, o.ResponderKey, err)))
			}
			rc, err := readCertificate(o.ResponderCertificate)
			if err != nil {
				return nil, append(diags, caDiag(c, "OCSP responder certificate unavailable", fmt.Sprintf("CA %q: %v.", c.Name, err)))
			}
			if !publicKeysEqualPub(rc.PublicKey, rs.Public()) {
				return nil, append(diags, caDiag(c, "OCSP responder key mismatch", fmt.Sprintf("CA %q: responder_certificate %s does not hold the public key of responder_key %q.", c.Name, o.ResponderCertificate, o.ResponderKey)))
			}
			if err := rc.CheckSignatureFrom(cert); err != nil {
				return nil, append(diags, caDiag(c, "OCSP responder not issued by the CA", fmt.Sprintf("CA %q: responder_certificate %s: %v.", c.Name, o.ResponderCertificate, err)))
			}
			if !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
				return nil, append(diags, caDiag(c, "OCSP responder lacks OCSP signing", fmt.Sprintf("CA %q: responder_certificate %s has no OCSP signing extended key usage.", c.Name, o.ResponderCertificate)))
			}
			icfg.OCSPResponder = &ca.OCSPResponder{Certificate: rc, Signer: rs}
		}
	}
	iss, err := ca.NewIssuer(icfg)
	if err != nil {
		return nil, append(diags, caDiag(c, "Cannot use CA", fmt.Sprintf("CA %q: %v.", c.Name, err)))
	}
	return iss, diags
}

func readCertificate(path string) (*x509.Certificate, error) {
	certs, err := ReadCertificates(path)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// readCertificates reads every CERTIFICATE block of a PEM file.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return out, nil
}
