// Package ca is pkid's issuing core, usable from Go without the CLI:
// request structs in, certificates out.
//
//	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "issuing", Certificate: caCert, Signer: signer, Profiles: cfg, Store: store})
//	cert, err := iss.Sign(ctx, ca.SignRequest{CSR: csrPEM, Profile: "server"})
//
// Every certificate is linted before it is signed (zlint; refusal names the
// lints) and, when a certstore is configured, durably recorded before it is
// returned: if the store write fails, no certificate is returned.
package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/lint"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/sdk"
)

// IssuerConfig describes one CA.
type IssuerConfig struct {
	// Label selects this CA (multirootca's label); stored with each record.
	Label       string
	Certificate *x509.Certificate
	// Chain holds the certificates above Certificate (not the root's
	// trust anchor necessarily); their name constraints are enforced too.
	Chain []*x509.Certificate
	// Signer holds the CA key: a keystore signer (KeyStoreSigner) or a
	// local key.
	Signer   crypto.Signer
	Profiles *profile.Config
	// Store, when set, records every certificate before it is returned.
	Store sdk.CertStore
	// OCSPResponder, when set, signs OCSP responses instead of the CA key.
	OCSPResponder *OCSPResponder
	// OCSPValidity is nextUpdate - thisUpdate of OCSP responses (0:
	// DefaultOCSPValidity).
	OCSPValidity time.Duration
	// OCSPURL, CRLURL and IssuerURL are written into issued certificates
	// (AIA OCSP, CRL distribution point, AIA caIssuers) when the profile
	// sets none.
	OCSPURL, CRLURL, IssuerURL string
	// MaxSANs, MaxCertificateBytes and MaxPathLen bound what a request
	// may ask for (the pkid block's limits; zero: DefaultMaxSANs,
	// DefaultMaxCertificateBytes, DefaultMaxPathLen).
	MaxSANs, MaxCertificateBytes, MaxPathLen int
	// SCTs submits precertificates to CT logs for profiles with a ct
	// block (core/ct implements it); nil: such profiles cannot issue.
	SCTs SCTSource
	// Now and Rand are for tests; defaults time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

// Default limits, as core/config's limits block defaults.
const (
	DefaultMaxSANs             = 1000
	DefaultMaxCertificateBytes = 64 << 10
	DefaultMaxPathLen          = 32
)

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Issuer signs certificates under one CA.
type Issuer struct {
	cfg     IssuerConfig
	sigAlg  x509.SignatureAlgorithm
	linters map[string]*lint.Linter // by profile name

	ocspOnce sync.Once
	ocsp     ocspInfo // see ocspState
}

// NewIssuer checks that the signer matches the CA certificate and prepares
// the linters of every profile. Errors: key mismatch (2300), unsupported or
// too weak CA key (2200), invalid lint settings or a profile pathlen above
// MaxPathLen (5200).
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	if cfg.Certificate == nil || cfg.Signer == nil || cfg.Profiles == nil {
		return nil, errors.New("ca: issuer needs a certificate, a signer and profiles")
	}
	if !publicKeysEqual(cfg.Certificate.PublicKey, cfg.Signer.Public()) {
		return nil, errorf(CodeKeyMismatch, nil, "the CA key does not match the CA certificate %q", cfg.Certificate.Subject.CommonName)
	}
	alg, err := DefaultSignatureAlgorithm(cfg.Signer.Public())
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	cfg.MaxSANs = orDefault(cfg.MaxSANs, DefaultMaxSANs)
	cfg.MaxCertificateBytes = orDefault(cfg.MaxCertificateBytes, DefaultMaxCertificateBytes)
	cfg.MaxPathLen = orDefault(cfg.MaxPathLen, DefaultMaxPathLen)
	iss := &Issuer{cfg: cfg, sigAlg: alg, linters: map[string]*lint.Linter{}}
	all := map[string]*profile.Profile{"": cfg.Profiles.Default}
	for name, p := range cfg.Profiles.Profiles {
		all[name] = p
	}
	for name, p := range all {
		if p == nil {
			continue
		}
		if p.CA.IsCA && p.CA.MaxPathLen > cfg.MaxPathLen {
			if name == "" {
				name = p.Name
			}
			return nil, errorf(CodeInvalidPolicy, nil, "profile %q: ca_constraint max_path_len %d exceeds the limit %d (limits.max_path_len)", name, p.CA.MaxPathLen, cfg.MaxPathLen)
		}
		l, err := lint.New(p.Lint)
		if err != nil {
			return nil, errorf(CodeInvalidPolicy, err, "profile %q: lint settings", name)
		}
		iss.linters[name] = l
	}
	return iss, nil
}

// Certificate returns the CA certificate.
func (i *Issuer) Certificate() *x509.Certificate { return i.cfg.Certificate }

// Label returns the CA's label.
func (i *Issuer) Label() string { return i.cfg.Label }

// Store returns the CA's certstore, or nil.
func (i *Issuer) Store() sdk.CertStore { return i.cfg.Store }

// AKI returns the key identifier the CA's certificates carry as their
// authority key identifier, as stored (lowercase hex).
func (i *Issuer) AKI() string { return hex.EncodeToString(i.cfg.Certificate.SubjectKeyId) }

// Profiles returns the CA's profiles.
func (i *Issuer) Profiles() *profile.Config { return i.cfg.Profiles }

// Subject overrides CSR subject fields; empty fields keep the CSR's.
type Subject struct {
	CN           string
	Names        []csr.Name
	SerialNumber string
}

// SignRequest asks for a certificate.
type SignRequest struct {
	// CSR is a PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST")
	// or DER certificate request. Its signature is verified.
	CSR []byte
	// Hosts, when non-nil, replace the CSR's SANs ([]string{} removes
	// them). Items are classified: IP, email, URI, else DNS.
	Hosts   []string
	Subject *Subject
	Profile string
	// Resolved is Profile as the caller already looked it up in this
	// CA's profiles (Profiles().Lookup), so a request resolves its
	// profile once; nil: Sign looks Profile up.
	Resolved *profile.Profile
	// Serial is the caller's serial; only with ClientProvidesSerialNumbers.
	Serial *big.Int
	// NotBefore/NotAfter narrow the validity within the profile (zero: unset).
	NotBefore, NotAfter time.Time
	// Extensions are added to the certificate; each OID must be in the
	// profile's allowed_extensions.
	Extensions []pkix.Extension
	// CRLOverride, when set, is the certificate's only CRL distribution
	// point instead of the profile's or the CA's.
	CRLOverride string
	Metadata    json.RawMessage
}

// Certificate is an issued certificate.
type Certificate struct {
	DER  []byte
	Cert *x509.Certificate
	// Warnings are lint findings below the refusal level and dropped
	// usages; the CLI prints them.
	Warnings []string
	// Precertificate and SCTs are set when the profile has a CT policy:
	// the precertificate submitted to the logs and the SCTs embedded in
	// DER.
	Precertificate []byte
	SCTs           []SCT
}

// PEM returns the certificate as PEM.
func (c *Certificate) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
}

// Sign issues a certificate for req. Errors are *Error with CFSSL codes:
// CSR problems (9002/9003/9300), unknown profile (5400), policy violations
// and lint refusals (5300), whitelist mismatch (5500), missing serial
// (1400), store failure (11100: no certificate is returned). Malformed
// names, names outside the profile's policy and requests beyond the
// limits (MaxSANs, MaxCertificateBytes) are policy violations (5300) whose
// message names the name or the limit.
func (i *Issuer) Sign(ctx context.Context, req SignRequest) (*Certificate, error) {
	cr, err := csr.ParseCSR(req.CSR)
	if err != nil {
		code := CodeCSRDecode
		if errors.Is(err, csr.ErrCSRSignature) {
			code = CodeCSRInvalid
		}
		return nil, errorf(code, err, "bad certificate request")
	}
	p := req.Resolved
	if p == nil {
		if p, err = i.cfg.Profiles.Lookup(req.Profile); err != nil {
			return nil, errorf(CodeUnknownProfile, err, "unknown profile %q", req.Profile)
		}
	}
	if p.Remote != "" || p.AuthRemote != nil {
		// Its remote issues it: never this key, whatever path (renewal,
		// offline issuance) reached here without core/forward in front.
		return nil, errorf(CodeInvalidPolicy, nil, "profile %q forwards to a remote CA: it is not issued locally", req.Profile)
	}
	if err := checkSubjectKey(cr.PublicKey); err != nil {
		return nil, err
	}
	t, warnings, err := i.template(cr, req, p)
	if err != nil {
		return nil, err
	}
	return i.issue(ctx, t, cr.PublicKey, p, req, warnings)
}

// issue lints, signs and records a prepared template.
func (i *Issuer) issue(ctx context.Context, t *x509.Certificate, pub crypto.PublicKey, p *profile.Profile, req SignRequest, warnings []string) (*Certificate, error) {
	if err := checkNameConstraints(t, append([]*x509.Certificate{i.cfg.Certificate}, i.cfg.Chain...)); err != nil {
		return nil, err
	}
	// The cheap bound first, so a huge request costs no lint; lint's
	// to-be-signed certificate and the signed one are measured too.
	if err := i.checkSize(minCertificateSize(t, i.cfg.Certificate, pub), "at least "); err != nil {
		return nil, err
	}
	var ct *ctIssuance
	if p.CT != nil {
		// Precertificate, SCTs, then the final certificate carrying them
		// (precert.go).
		var err error
		if ct, err = i.precertificate(ctx, t, pub, p); err != nil {
			return nil, err
		}
		warnings = append(warnings, ct.warnings...)
	}
	c, err := i.construct(ctx, t, pub, i.linters[p.Name])
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, c.warnings...)
	der := c.der
	if err := i.checkSize(len(der), ""); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parsing the signed certificate: %w", err)
	}
	metadata := req.Metadata
	if ct != nil {
		if metadata, err = ct.metadata(metadata); err != nil {
			return nil, err
		}
	}
	if i.cfg.Store != nil {
		if err := i.cfg.Store.Put(ctx, Record(cert, i.cfg.Label, p.Name, metadata)); err != nil {
			code := CodeStoreInsert
			if errors.Is(err, sdk.ErrUnavailable) {
				code = CodeStoreUnavailable
			}
			return nil, errorf(code, err, "the certificate could not be recorded, so it is not returned")
		}
	}
	out := &Certificate{DER: der, Cert: cert, Warnings: warnings}
	if ct != nil {
		out.Precertificate, out.SCTs = ct.precertDER, ct.scts.SCTs
	}
	return out, nil
}

// Record is the certstore record of an issued certificate.
func Record(c *x509.Certificate, issuerLabel, profileName string, metadata json.RawMessage) *sdk.CertRecord {
	var sans []string
	sans = append(sans, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, c.EmailAddresses...)
	for _, u := range c.URIs {
		sans = append(sans, u.String())
	}
	return &sdk.CertRecord{
		Serial: c.SerialNumber.String(), AKI: hex.EncodeToString(c.AuthorityKeyId), IssuerLabel: issuerLabel,
		Subject: c.Subject.String(), SANs: sans, NotBefore: c.NotBefore, NotAfter: c.NotAfter,
		Status: sdk.StatusGood, Profile: profileName, DER: c.Raw, Metadata: metadata,
	}
}

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidOCSPNoCheck      = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
)

// template applies the profile and request to the CSR, in named steps
// (the order is the order of the errors a bad request meets).
func (i *Issuer) template(cr *x509.CertificateRequest, req SignRequest, p *profile.Profile) (*x509.Certificate, []string, error) {
	d := &draft{i: i, cr: cr, req: req, p: p}
	for _, step := range []func() error{
		d.subjectAndNames, d.serial, d.validity, d.usages, d.basicConstraints,
		d.keyIdentifiers, d.urls, d.extensions, d.checkedNames,
	} {
		if err := step(); err != nil {
			return nil, nil, err
		}
	}
	return d.t, d.warnings, nil
}

// draft is a certificate template in the making: each step of template
// reads the CSR, request and profile and fills t.
type draft struct {
	i        *Issuer
	cr       *x509.CertificateRequest
	req      SignRequest
	p        *profile.Profile
	t        *x509.Certificate
	warnings []string
	// csrSAN is the CSR's subjectAltName extension to copy, decided once
	// the names are checked.
	csrSAN *pkix.Extension
}

// subjectAndNames takes the CSR's subject and names that the profile's
// CSR whitelist keeps, then the request's subject fields and hosts.
func (d *draft) subjectAndNames() error {
	cr, p := d.cr, d.p
	t := &x509.Certificate{
		Subject:            csr.CertificateSubject(cr),
		DNSNames:           cr.DNSNames,
		IPAddresses:        cr.IPAddresses,
		EmailAddresses:     cr.EmailAddresses,
		URIs:               cr.URIs,
		SignatureAlgorithm: d.i.sigAlg,
	}
	d.t = t
	if p.SignatureAlgorithm != 0 {
		t.SignatureAlgorithm = p.SignatureAlgorithm
	}
	if w := p.CSRWhitelist; w != nil {
		if !w.Subject {
			t.Subject = pkix.Name{}
		}
		if !w.DNSNames {
			t.DNSNames = nil
		}
		if !w.IPAddresses {
			t.IPAddresses = nil
		}
		if !w.EmailAddresses {
			t.EmailAddresses = nil
		}
		if !w.URIs {
			t.URIs = nil
		}
	}
	if d.req.Subject != nil {
		applySubject(&t.Subject, d.req.Subject)
	}
	if d.req.Hosts != nil {
		t.DNSNames, t.IPAddresses, t.EmailAddresses, t.URIs = csr.ClassifyHosts(d.req.Hosts)
	}
	return nil
}

// serial is the client's (when the profile lets clients choose) or random.
func (d *draft) serial() error {
	switch req := d.req; {
	case d.p.ClientProvidesSerialNumbers && req.Serial == nil:
		return errorf(CodeMissingSerial, nil, "Missing serial number in request")
	case d.p.ClientProvidesSerialNumbers:
		if req.Serial.Sign() <= 0 || req.Serial.BitLen() > 159 {
			return errorf(CodePolicyViolation, nil, "serial number must be positive and at most 20 bytes")
		}
		d.t.SerialNumber = req.Serial
	default:
		s, err := newSerial(d.i.cfg.Rand)
		if err != nil {
			return err
		}
		d.t.SerialNumber = s
	}
	return nil
}

func (d *draft) validity() error { return d.i.validity(d.t, d.req, d.p) }

// usages are the profile's, less those that do not fit the key (with a
// warning); a certificate needs one.
func (d *draft) usages() error {
	t, p := d.t, d.p
	ku, dropped := profile.DropUnfitUsages(p, d.cr.PublicKey)
	d.warnings = append(d.warnings, dropped...)
	t.KeyUsage = ku
	t.ExtKeyUsage = p.ExtKeyUsage
	t.UnknownExtKeyUsage = p.UnknownExtKeyUsage
	if t.KeyUsage == 0 && len(t.ExtKeyUsage) == 0 && len(t.UnknownExtKeyUsage) == 0 && !p.CA.IsCA {
		return errorf(CodeNoUsage, nil, "profile %q has no usage that fits a %s key", p.Name, keyName(d.cr.PublicKey))
	}
	return nil
}

// basicConstraints are always present and critical; a CA profile's path
// length is bounded by the issuer's, and its certificates carry name
// constraints instead of host names.
func (d *draft) basicConstraints() error {
	t, p := d.t, d.p
	t.BasicConstraintsValid = true
	if csrAsksCA(d.cr) && !p.CA.IsCA {
		return errorf(CodePolicyViolation, nil, "the CSR asks for a CA certificate but profile %q does not issue CA certificates", p.Name)
	}
	if !p.CA.IsCA {
		return nil
	}
	t.IsCA = true
	t.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	t.MaxPathLen, t.MaxPathLenZero = p.CA.MaxPathLen, p.CA.MaxPathLenZero
	if t.MaxPathLen == 0 && !t.MaxPathLenZero {
		t.MaxPathLen = -1
	}
	// The issuer's own path length bounds the new CA's.
	if iss := d.i.cfg.Certificate; iss.BasicConstraintsValid {
		switch {
		case iss.MaxPathLen == 0 && iss.MaxPathLenZero:
			return errorf(CodePolicyViolation, nil, "issuer %q has path length 0: it cannot issue CA certificates", iss.Subject.CommonName)
		case iss.MaxPathLen > 0 && (t.MaxPathLen < 0 || t.MaxPathLen > iss.MaxPathLen-1):
			t.MaxPathLen = iss.MaxPathLen - 1
			t.MaxPathLenZero = t.MaxPathLen == 0
			d.warnings = append(d.warnings, fmt.Sprintf("path length limited to %d by the issuer's path length %d", t.MaxPathLen, iss.MaxPathLen))
		}
	}
	// CA certificates carry no host names.
	t.DNSNames, t.EmailAddresses, t.URIs, t.IPAddresses = nil, nil, nil, nil
	if nc := p.NameConstraints; nc != nil {
		t.PermittedDNSDomainsCritical = nc.Critical
		t.PermittedDNSDomains, t.ExcludedDNSDomains = nc.PermittedDNS, nc.ExcludedDNS
		t.PermittedIPRanges, t.ExcludedIPRanges = nc.PermittedIP, nc.ExcludedIP
		t.PermittedEmailAddresses, t.ExcludedEmailAddresses = nc.PermittedEmail, nc.ExcludedEmail
		t.PermittedURIDomains, t.ExcludedURIDomains = nc.PermittedURI, nc.ExcludedURI
	}
	return nil
}

// keyIdentifiers: SKI = SHA-1 of the subjectPublicKey bits; AKI comes from
// the issuer's SKI.
func (d *draft) keyIdentifiers() error {
	ski, err := subjectKeyID(d.cr.PublicKey)
	if err != nil {
		return err
	}
	d.t.SubjectKeyId = ski
	if len(d.i.cfg.Certificate.SubjectKeyId) == 0 {
		// Go would leave AKI empty; a CA without SKI is unusual but legal.
		d.t.AuthorityKeyId = nil
	}
	return nil
}

// urls are the profile's, else the CA's (its responder, CRL and
// certificate).
func (d *draft) urls() error {
	t, p, cfg := d.t, d.p, &d.i.cfg
	ocspURL, crlURL, issuerURLs := p.OCSPURL, p.CRLURL, p.IssuerURLs
	if ocspURL == "" {
		ocspURL = cfg.OCSPURL
	}
	if crlURL == "" {
		crlURL = cfg.CRLURL
	}
	if d.req.CRLOverride != "" {
		crlURL = d.req.CRLOverride
	}
	if len(issuerURLs) == 0 && cfg.IssuerURL != "" {
		issuerURLs = []string{cfg.IssuerURL}
	}
	if ocspURL != "" {
		t.OCSPServer = []string{ocspURL}
	}
	t.IssuingCertificateURL = issuerURLs
	if crlURL != "" {
		t.CRLDistributionPoints = []string{crlURL}
	}
	return nil
}

// extensions: the profile's (OCSP no-check, policies), the CSR's
// delegation usage, the CSR's others when the profile copies them, and the
// request's that the profile allows.
func (d *draft) extensions() error {
	t, p, req := d.t, d.p, d.req
	t.ExtraExtensions = append(t.ExtraExtensions, delegationUsage(d.cr)...)
	if p.OCSPNoCheck {
		t.ExtraExtensions = append(t.ExtraExtensions, pkix.Extension{Id: oidOCSPNoCheck, Value: []byte{0x05, 0x00}})
	}
	if len(p.Policies) > 0 {
		ext, err := policiesExtension(p.Policies)
		if err != nil {
			return errorf(CodeInvalidPolicy, err, "profile %q: certificate policies", p.Name)
		}
		t.ExtraExtensions = append(t.ExtraExtensions, ext)
	}
	if p.CopyExtensions {
		for _, e := range d.cr.Extensions {
			if e.Id.Equal(oidBasicConstraints) || e.Id.Equal(csr.OIDDelegationUsage) || (req.Hosts != nil && e.Id.Equal(oidSubjectAltName)) {
				continue
			}
			if e.Id.Equal(oidSubjectAltName) {
				d.csrSAN = &e // decided by checkedNames
				continue
			}
			t.ExtraExtensions = append(t.ExtraExtensions, e)
		}
	}
	for _, e := range req.Extensions {
		if !oidIn(e.Id, p.AllowedExtensions) {
			return errorf(CodePolicyViolation, nil, "extension %s is not in profile %q's allowed_extensions", e.Id, p.Name)
		}
		t.ExtraExtensions = append(t.ExtraExtensions, e)
	}
	return nil
}

// checkedNames bounds the number of names, checks them (IDNs become
// A-labels) before policy and lint, whichever way they came (hosts or the
// CSR), and applies the profile's name policy.
func (d *draft) checkedNames() error {
	t, p := d.t, d.p
	if n := len(t.DNSNames) + len(t.IPAddresses) + len(t.EmailAddresses) + len(t.URIs); n > d.i.cfg.MaxSANs {
		return errorf(CodePolicyViolation, nil, "certificate has %d names; the limit is %d (limits.max_sans)", n, d.i.cfg.MaxSANs)
	}
	dns, emails, uris, err := csr.CheckSANs(t.DNSNames, t.EmailAddresses, t.URIs)
	if err != nil {
		return errorf(CodePolicyViolation, nil, "%s", strings.TrimPrefix(err.Error(), "csr: "))
	}
	t.DNSNames, t.EmailAddresses, t.URIs = dns, emails, uris
	// The CSR's subjectAltName bytes are copied only when they say
	// exactly what was checked: the same names, and no policy that name
	// types Go does not parse (otherName, directoryName) could slip past.
	if d.csrSAN != nil && sameSANs(t, d.cr) && p.Names == nil && p.NameWhitelist == nil {
		t.ExtraExtensions = append(t.ExtraExtensions, *d.csrSAN)
	}
	return checkNames(t, p)
}

// sameSANs reports whether t's names are exactly the CSR's.
func sameSANs(t *x509.Certificate, cr *x509.CertificateRequest) bool {
	return slices.Equal(t.DNSNames, cr.DNSNames) && slices.Equal(t.EmailAddresses, cr.EmailAddresses) &&
		slices.EqualFunc(t.IPAddresses, cr.IPAddresses, net.IP.Equal) &&
		slices.EqualFunc(t.URIs, cr.URIs, func(a, b *url.URL) bool { return a.String() == b.String() })
}

// checkSize refuses a certificate of size bytes above MaxCertificateBytes;
// qualifier says how size was measured ("at least ", "about ").
func (i *Issuer) checkSize(size int, qualifier string) error {
	if size > i.cfg.MaxCertificateBytes {
		return errorf(CodePolicyViolation, nil, "certificate would be %s%d bytes; the limit is %d bytes (limits.max_certificate_bytes)", qualifier, size, i.cfg.MaxCertificateBytes)
	}
	return nil
}

// minCertificateSize is a lower bound of t's DER size signed by parent:
// the bytes of its names, extensions, subject, issuer and public key,
// without any encoding overhead.
func minCertificateSize(t, parent *x509.Certificate, pub crypto.PublicKey) int {
	n := len(parent.RawSubject)
	for _, d := range t.DNSNames {
		n += len(d)
	}
	for _, e := range t.EmailAddresses {
		n += len(e)
	}
	for _, ip := range t.IPAddresses {
		n += min(len(ip), 4)
	}
	for _, u := range t.URIs {
		n += len(u.String())
	}
	for _, e := range t.ExtraExtensions {
		n += len(e.Value)
	}
	// The subject: its fields, or its ExtraNames (which may repeat them).
	s := t.Subject
	fields, extra := len(s.CommonName)+len(s.SerialNumber), 0
	for _, vs := range [][]string{s.Country, s.Organization, s.OrganizationalUnit, s.Locality, s.Province, s.StreetAddress, s.PostalCode} {
		for _, v := range vs {
			fields += len(v)
		}
	}
	for _, a := range s.ExtraNames {
		extra += len(fmt.Sprint(a.Value))
	}
	n += max(fields, extra)
	for _, u := range append(append(append([]string{}, t.OCSPServer...), t.IssuingCertificateURL...), t.CRLDistributionPoints...) {
		n += len(u)
	}
	if der, err := x509.MarshalPKIXPublicKey(pub); err == nil {
		n += len(der)
	}
	return n
}

func (i *Issuer) validity(t *x509.Certificate, req SignRequest, p *profile.Profile) error {
	backdate := p.Backdate
	if backdate == 0 && !p.BackdateSet {
		backdate = profile.DefaultBackdate
	}
	if p.Expiry > 0 && p.Expiry < time.Hour {
		// A lifetime under an hour (short-lived mTLS certificates,
		// docs/transport.md) would lose up to a minute to CFSSL's rounding.
		t.NotBefore = i.cfg.Now().UTC().Truncate(time.Second).Add(-backdate)
	} else {
		t.NotBefore = notBefore(i.cfg.Now(), backdate)
	}
	if !p.NotBefore.IsZero() {
		t.NotBefore = p.NotBefore
	}
	if p.Expiry <= 0 && p.NotAfter.IsZero() {
		return errorf(CodeInvalidPolicy, nil, "profile %q has no expiry", p.Name)
	}
	t.NotAfter = t.NotBefore.Add(p.Expiry)
	if !p.NotAfter.IsZero() {
		t.NotAfter = p.NotAfter
	}
	if !req.NotBefore.IsZero() {
		if req.NotBefore.Before(t.NotBefore) {
			return errorf(CodePolicyViolation, nil, "requested not_before %s is before the profile allows (%s)", req.NotBefore.UTC().Format(time.RFC3339), t.NotBefore.Format(time.RFC3339))
		}
		t.NotBefore = req.NotBefore
	}
	if !req.NotAfter.IsZero() {
		if req.NotAfter.After(t.NotAfter) {
			return errorf(CodePolicyViolation, nil, "requested not_after %s is beyond the profile's expiry (%s)", req.NotAfter.UTC().Format(time.RFC3339), t.NotAfter.Format(time.RFC3339))
		}
		t.NotAfter = req.NotAfter
	}
	if !t.NotAfter.After(t.NotBefore) {
		return errorf(CodePolicyViolation, nil, "validity is empty: not_after %s is not after not_before %s", t.NotAfter.Format(time.RFC3339), t.NotBefore.Format(time.RFC3339))
	}
	if ca := i.cfg.Certificate; t.NotAfter.After(ca.NotAfter) {
		return errorf(CodePolicyViolation, nil, "the certificate would expire %s, after its issuer %q (%s)", t.NotAfter.Format(time.RFC3339), ca.Subject.CommonName, ca.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// notBefore is now rounded to the nearest minute less backdate, as CFSSL
// computes it; when a backdate under 30 s would put it in the future, now
// truncated instead, so the certificate is valid at once.
func notBefore(now time.Time, backdate time.Duration) time.Time {
	now = now.UTC()
	if nb := now.Round(time.Minute).Add(-backdate); !nb.After(now) {
		return nb
	}
	return now.Truncate(time.Minute).Add(-backdate)
}

func applySubject(n *pkix.Name, s *Subject) {
	if s.CN != "" {
		n.CommonName = s.CN
	}
	if s.SerialNumber != "" {
		n.SerialNumber = s.SerialNumber
	}
	override := func(dst *[]string, vals []string) {
		if len(vals) > 0 {
			*dst = vals
		}
	}
	var c, st, l, o, ou []string
	for _, nm := range s.Names {
		c, st, l, o, ou = appendNonEmpty(c, nm.C), appendNonEmpty(st, nm.ST), appendNonEmpty(l, nm.L), appendNonEmpty(o, nm.O), appendNonEmpty(ou, nm.OU)
	}
	override(&n.Country, c)
	override(&n.Province, st)
	override(&n.Locality, l)
	override(&n.Organization, o)
	override(&n.OrganizationalUnit, ou)
	// Only these fields may be overridden; other CSR attributes are dropped
	// from an overridden subject (CFSSL's rule).
	n.ExtraNames, n.Names = nil, nil
}

func appendNonEmpty(s []string, v string) []string {
	if v == "" {
		return s
	}
	return append(s, v)
}

// delegationUsage is the CSR's TLS delegated-credential usage extension,
// which is copied whatever the profile says (a key asks for it; CFSSL
// copies it the same way).
func delegationUsage(cr *x509.CertificateRequest) []pkix.Extension {
	for _, e := range cr.Extensions {
		if e.Id.Equal(csr.OIDDelegationUsage) {
			return []pkix.Extension{e}
		}
	}
	return nil
}

func oidIn(id asn1.ObjectIdentifier, list []asn1.ObjectIdentifier) bool {
	for _, o := range list {
		if o.Equal(id) {
			return true
		}
	}
	return false
}

func csrAsksCA(cr *x509.CertificateRequest) bool {
	for _, e := range cr.Extensions {
		if !e.Id.Equal(oidBasicConstraints) {
			continue
		}
		var bc struct {
			IsCA       bool `asn1:"optional"`
			MaxPathLen int  `asn1:"optional,default:-1"`
		}
		if _, err := asn1.Unmarshal(e.Value, &bc); err == nil && bc.IsCA {
			return true
		}
	}
	return false
}

func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, errorf(CodeKeyUnsupported, err, "marshaling public key")
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("ca: parsing public key: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ad, err1 := x509.MarshalPKIXPublicKey(a)
	bd, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(ad, bd)
}

func keyName(pub crypto.PublicKey) string {
	alg, _ := DefaultSignatureAlgorithm(pub)
	switch alg {
	case x509.PureEd25519:
		return "Ed25519"
	case x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
		return "ECDSA"
	}
	return "RSA"
}

// checkNames applies the profile's name whitelist and allow/deny policy.
func checkNames(t *x509.Certificate, p *profile.Profile) error {
	if re := p.NameWhitelist; re != nil {
		names := append([]string{}, t.DNSNames...)
		if t.Subject.CommonName != "" {
			names = append(names, t.Subject.CommonName)
		}
		names = append(names, t.EmailAddresses...)
		for _, u := range t.URIs {
			names = append(names, u.String())
		}
		for _, n := range names {
			if !re.MatchString(n) {
				return errorf(CodeNotWhitelisted, nil, "Request does not match policy whitelist: %q", n)
			}
		}
	}
	if np := p.Names; np != nil {
		if err := checkNamePolicy(t, np); err != nil {
			return errorf(CodePolicyViolation, nil, "profile %q: %s", p.Name, err)
		}
		// Verifiers match a host against the CN when a certificate has
		// no SAN of its type (openssl -verify_hostname does), so the CN
		// is a name too. A CA's CN names the CA, not a host.
		if cn := t.Subject.CommonName; cn != "" && !t.IsCA {
			if err := checkCommonName(cn, np); errors.Is(err, errNotAName) {
				return errorf(CodePolicyViolation, nil, "profile %q: common name %q is not a DNS name, IP address, email address or URI, which a policy with allow lists requires", p.Name, cn)
			} else if err != nil {
				return errorf(CodePolicyViolation, nil, "profile %q: common name %q: %s", p.Name, cn, err)
			}
		}
	}
	return nil
}

var errNotAName = errors.New("not a name")

// checkCommonName classifies the CN as step-ca does (an IP address, else
// an email address, else a URI, else a DNS name; csr.ClassifyHosts) and
// checks it against that type's lists. A CN that is none of these (free
// text, a malformed name) is refused while any allow list is set.
func checkCommonName(cn string, np *profile.NamePolicy) error {
	dns, ips, emails, uris := csr.ClassifyHosts([]string{cn})
	if len(dns)+len(ips)+len(emails)+len(uris) == 0 { // blank
		if np.AnyAllow() {
			return errNotAName
		}
		return nil
	}
	var err error
	if len(dns) == 1 {
		var d string
		if d, err = csr.DNSName(dns[0]); err != nil {
			if !np.AnyAllow() {
				// Free text; still no denied name in any spelling.
				if anyPattern(dns[0], np.DenyDNS) {
					return fmt.Errorf("DNS name %q is denied", dns[0])
				}
				return nil
			}
			return errNotAName
		}
		dns[0] = d
	}
	if emails, uris, err = normalizeEmailsURIs(emails, uris); err != nil {
		if !np.AnyAllow() {
			return nil
		}
		return errNotAName
	}
	return checkNamePolicy(&x509.Certificate{DNSNames: dns, IPAddresses: ips, EmailAddresses: emails, URIs: uris}, np)
}

func normalizeEmailsURIs(emails []string, uris []*url.URL) ([]string, []*url.URL, error) {
	_, emails, uris, err := csr.CheckSANs(nil, emails, uris)
	return emails, uris, err
}

// dnsPatternMatches: "*.example.com" matches exactly one label below
// example.com; anything else matches the name exactly (case-insensitive).
func dnsPatternMatches(name, pattern string) bool {
	name, pattern = strings.ToLower(strings.TrimSuffix(name, ".")), strings.ToLower(pattern)
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, parent, found := strings.Cut(name, ".")
		return found && label != "" && parent == rest
	}
	return name == pattern
}

func anyPattern(name string, patterns []string) bool {
	for _, p := range patterns {
		if dnsPatternMatches(name, p) {
			return true
		}
	}
	return false
}

// checkNamePolicy applies np to t's SANs. As in step-ca's policy engine,
// once any allow list is set, a name type without one is denied.
func checkNamePolicy(t *x509.Certificate, np *profile.NamePolicy) error {
	anyAllow := np.AnyAllow()
	for _, d := range t.DNSNames {
		if strings.Contains(d, "*") && !np.AllowWildcards {
			return fmt.Errorf("wildcard name %q is not allowed", d)
		}
		if anyPattern(d, np.DenyDNS) {
			return fmt.Errorf("DNS name %q is denied", d)
		}
		switch {
		case len(np.AllowDNS) > 0 && !anyPattern(d, np.AllowDNS):
			return fmt.Errorf("DNS name %q is not in the allowed names %q", d, np.AllowDNS)
		case anyAllow && len(np.AllowDNS) == 0:
			return fmt.Errorf("DNS name %q is not allowed: the policy has allow lists but no allow_dns", d)
		}
	}
	for _, ip := range t.IPAddresses {
		if anyNet(np.DenyIP, ip) {
			return fmt.Errorf("IP address %s is denied", ip)
		}
		switch {
		case len(np.AllowIP) > 0 && !anyNet(np.AllowIP, ip):
			return fmt.Errorf("IP address %s is not in the allowed ranges %s", ip, netsString(np.AllowIP))
		case anyAllow && len(np.AllowIP) == 0:
			return fmt.Errorf("IP address %s is not allowed: the policy has allow lists but no allow_ip", ip)
		}
	}
	for _, e := range t.EmailAddresses {
		if err := checkEmail(e, np.AllowEmail, np.DenyEmail); err != nil {
			return err
		}
		if anyAllow && len(np.AllowEmail) == 0 {
			return fmt.Errorf("email address %q is not allowed: the policy has allow lists but no allow_email", e)
		}
	}
	for _, u := range t.URIs {
		h := u.Hostname()
		if anyPattern(h, np.DenyURI) {
			return fmt.Errorf("URI %q is denied", u)
		}
		switch {
		case len(np.AllowURI) > 0 && !anyPattern(h, np.AllowURI):
			return fmt.Errorf("URI %q is not in the allowed hosts %q", u, np.AllowURI)
		case anyAllow && len(np.AllowURI) == 0:
			return fmt.Errorf("URI %q is not allowed: the policy has allow lists but no allow_uri", u)
		}
	}
	return nil
}

// preIssuanceLint lints the to-be-signed certificate; findings at the
// profile's level refuse issuance (5300, naming the lints), lower ones come
// back as warnings. size is the linted certificate's DER size (the real
// one's differs by a few signature bytes at most).
func preIssuanceLint(l *lint.Linter, t, parent *x509.Certificate, pub, issuerPub crypto.PublicKey) (warnings []string, size int, err error) {
	tbs, err := lint.PreIssuance(t, parent, pub, issuerPub)
	if err != nil {
		return nil, 0, fmt.Errorf("ca: preparing the certificate for lint: %w", err)
	}
	rep, err := l.Lint(tbs)
	if err != nil {
		return nil, 0, fmt.Errorf("ca: lint: %w", err)
	}
	if err := rep.Err(); err != nil {
		return nil, 0, errorf(CodePolicyViolation, err, "certificate refused")
	}
	return findingStrings(rep.Warnings()), len(tbs), nil
}

func findingStrings(fs []lint.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = "lint " + f.String()
	}
	return out
}

// CheckNames applies the profile's name whitelist and name policy to DNS
// names and IP addresses before any CSR exists (the ACME server refuses an
// order's identifiers with it). The error is an *Error (5300 or 5500)
// naming the refused name; Sign applies the same rules again.
func CheckNames(p *profile.Profile, dns []string, ips []net.IP) error {
	return checkNames(&x509.Certificate{DNSNames: dns, IPAddresses: ips}, p)
}
