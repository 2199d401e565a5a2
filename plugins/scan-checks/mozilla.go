package scanchecks

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/pkid/pkid/sdk"
	ztls "github.com/zmap/zcrypto/tls"
)

func mozillaFamily() *family {
	return &family{name: "Mozilla", desc: "Grades the host against the Mozilla server-side TLS guidelines (6.0 unless the plugin's mozilla_guidelines says 5.7)", checks: []*check{
		{"Modern", `The host meets the "modern" configuration: TLS 1.3 only`, mozillaCheck("modern")},
		{"Intermediate", `The host meets the "intermediate" configuration: TLS 1.2 and 1.3 with AEAD forward-secret suites`, mozillaCheck("intermediate")},
	}}
}

// Mozilla's names for protocol versions and groups.
var mozVersion = map[uint16]string{
	ztls.VersionSSL30: "SSLv3", ztls.VersionTLS10: "TLSv1", ztls.VersionTLS11: "TLSv1.1",
	ztls.VersionTLS12: "TLSv1.2", ztls.VersionTLS13: "TLSv1.3",
}

var mozGroup = map[ztls.CurveID]string{
	ztls.X25519: "X25519", ztls.CurveP256: "prime256v1", ztls.CurveP384: "secp384r1",
	ztls.CurveP521: "secp521r1", ztls.X25519MLKEM768: "X25519MLKEM768",
}

// targetProfile is what the Mozilla rules need to know about a target.
type targetProfile struct {
	scans   []*versionScan
	leaf    *x509.Certificate
	stapled bool
	hsts    *hstsPolicy // nil: no valid header
	hstsErr string      // why hsts is nil
	notHTTP bool        // the service does not speak HTTP: no HSTS rule
}

func (c *checker) profileTarget(ctx context.Context, e *env) (*targetProfile, error) {
	scans, err := c.scanAll(ctx, e.t, e.addr())
	if err != nil {
		return nil, err
	}
	chain, err := c.chain(ctx, e.t, e.addr())
	if err != nil {
		return nil, err
	}
	p := &targetProfile{scans: scans, leaf: chain[0]}
	if st, err := c.goHandshake(ctx, e.addr(), c.tlsConfig(e.t, false)); err == nil {
		p.stapled = len(st.OCSPResponse) > 0
	}
	switch v, err := c.fetchHSTS(ctx, e); {
	case errors.Is(err, errNoHTTP):
		p.notHTTP = true
	case err != nil:
		p.hstsErr = err.Error()
	case v == "":
		p.hstsErr = "no Strict-Transport-Security header"
	default:
		if p.hsts, err = parseHSTS(v); err != nil {
			p.hstsErr = "malformed Strict-Transport-Security header: " + err.Error()
		}
	}
	return p, nil
}

// mozillaResult is the output of a Mozilla check.
type mozillaResult struct {
	Guidelines string   `json:"guidelines"`
	Profile    string   `json:"profile"`
	Failures   []string `json:"failures"`
	Warnings   []string `json:"warnings"`
}

// grade applies one configuration of g to p. Failures break a "must" of
// the configuration (versions, suites, groups, certificate type, signature
// and key size, DH size, lifespan); warnings miss a recommendation
// (OCSP stapling, HSTS).
func grade(g *guidelines, name string, p *targetProfile) *mozillaResult {
	conf := g.Configurations[name]
	r := &mozillaResult{Guidelines: g.Version, Profile: name, Failures: []string{}, Warnings: []string{}}
	rule := name + " " + g.Version
	fail := func(format string, a ...any) { r.Failures = append(r.Failures, fmt.Sprintf(format, a...)) }
	warn := func(format string, a ...any) { r.Warnings = append(r.Warnings, fmt.Sprintf(format, a...)) }

	allowedVersions := make([]string, len(conf.TLSVersions))
	for i, v := range conf.TLSVersions {
		allowedVersions[i] = v
		for id, mv := range mozVersion {
			if mv == v {
				allowedVersions[i] = versionName(id)
			}
		}
	}
	seenGroup := map[ztls.CurveID]bool{}
	dhMin := 0
	for _, vs := range p.scans {
		if !slices.Contains(conf.TLSVersions, mozVersion[vs.version]) {
			fail("%s offered; %s allows %s", versionName(vs.version), rule, strings.Join(allowedVersions, ", "))
			continue // the suites of a forbidden version are moot
		}
		for _, a := range vs.suites {
			name := suiteName(a.suite)
			allowed := conf.Ciphers.IANA
			if vs.version == ztls.VersionTLS13 {
				allowed = conf.CipherSuites
			}
			if !slices.Contains(allowed, name) {
				fail("%s offered at %s; %s does not allow it", name, versionName(vs.version), rule)
			}
			for _, grp := range a.groups {
				seenGroup[grp] = true
			}
			if a.hello.dhBits > 0 && (dhMin == 0 || a.hello.dhBits < dhMin) {
				dhMin = a.hello.dhBits
			}
		}
	}
	groups := make([]ztls.CurveID, 0, len(seenGroup))
	for grp := range seenGroup {
		groups = append(groups, grp)
	}
	slices.Sort(groups)
	for _, grp := range groups {
		mn := mozGroup[grp]
		if mn == "" {
			mn = groupName(grp)
		}
		if !slices.Contains(conf.TLSCurves, mn) {
			fail("group %s offered; %s allows %s", mn, rule, strings.Join(conf.TLSCurves, ", "))
		}
		if conf.ECDHParamSize != nil && groupBits[grp] > 0 && groupBits[grp] < *conf.ECDHParamSize {
			fail("group %s is %d bits; %s needs %d", mn, groupBits[grp], rule, *conf.ECDHParamSize)
		}
	}
	if dhMin > 0 && conf.DHParamSize != nil && dhMin < *conf.DHParamSize {
		fail("DH group of %d bits; %s needs %d", dhMin, rule, *conf.DHParamSize)
	}

	leaf := p.leaf
	ctype, curve := "", ""
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		ctype = "rsa"
		if conf.RSAKeySize != nil && k.N.BitLen() < *conf.RSAKeySize {
			fail("RSA key of %d bits; %s needs %d", k.N.BitLen(), rule, *conf.RSAKeySize)
		}
	case *ecdsa.PublicKey:
		ctype = "ecdsa"
		curve = map[string]string{"P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1"}[k.Curve.Params().Name]
		if curve == "" {
			curve = k.Curve.Params().Name
		}
	default:
		ctype = strings.ToLower(leaf.PublicKeyAlgorithm.String())
	}
	if !slices.Contains(conf.CertificateTypes, ctype) {
		fail("%s certificate; %s allows %s", ctype, rule, strings.Join(conf.CertificateTypes, ", "))
	}
	if ctype == "ecdsa" && !slices.Contains(conf.CertificateCurves, curve) {
		fail("certificate curve %s; %s allows %s", curve, rule, strings.Join(conf.CertificateCurves, ", "))
	}
	if sig := opensslSigName(leaf.SignatureAlgorithm); !slices.Contains(conf.CertificateSignatures, sig) {
		fail("certificate signed with %s; %s allows %s", sig, rule, strings.Join(conf.CertificateSignatures, ", "))
	}
	if days := int(math.Ceil(leaf.NotAfter.Sub(leaf.NotBefore).Hours() / 24)); conf.MaxCertLifespanDays > 0 && days > conf.MaxCertLifespanDays {
		fail("certificate lifespan of %d days; %s allows %d", days, rule, conf.MaxCertLifespanDays)
	}
	if conf.OCSPStaple && !p.stapled {
		warn("no OCSP response stapled; %s recommends stapling", rule)
	}
	switch {
	case p.notHTTP:
	case p.hsts == nil:
		warn("%s; %s recommends HSTS with max-age %d", p.hstsErr, rule, conf.HSTSMinAge)
	case p.hsts.MaxAge < conf.HSTSMinAge:
		warn("HSTS max-age %d; %s recommends at least %d", p.hsts.MaxAge, rule, conf.HSTSMinAge)
	}
	return r
}

// opensslSigName is a signature algorithm as the guidelines name it.
func opensslSigName(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.SHA256WithRSA:
		return "sha256WithRSAEncryption"
	case x509.SHA384WithRSA:
		return "sha384WithRSAEncryption"
	case x509.SHA512WithRSA:
		return "sha512WithRSAEncryption"
	case x509.SHA1WithRSA:
		return "sha1WithRSAEncryption"
	case x509.ECDSAWithSHA256:
		return "ecdsa-with-SHA256"
	case x509.ECDSAWithSHA384:
		return "ecdsa-with-SHA384"
	case x509.ECDSAWithSHA512:
		return "ecdsa-with-SHA512"
	case x509.ECDSAWithSHA1:
		return "ecdsa-with-SHA1"
	case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		return "rsassaPss"
	case x509.PureEd25519:
		return "ED25519"
	}
	return a.String()
}

func mozillaCheck(name string) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		p, err := e.c.profileTarget(ctx, e)
		if err != nil {
			return e.fail(err)
		}
		if len(p.scans) == 0 {
			return e.emit(sdk.GradeBad, "couldn't negotiate any cipher suites", nil)
		}
		r := grade(e.c.guidelines, name, p)
		switch {
		case len(r.Failures) > 0:
			return e.emit(sdk.GradeBad, strings.Join(r.Failures, "; "), r)
		case len(r.Warnings) > 0:
			return e.emit(sdk.GradeWarning, strings.Join(r.Warnings, "; "), r)
		}
		return e.emit(sdk.GradeGood, "", r)
	}
}
