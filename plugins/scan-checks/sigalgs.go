package scanchecks

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/pkid/pkid/sdk"
	ztls "github.com/zmap/zcrypto/tls"
)

// sigAlg is one TLS 1.2 SignatureAndHashAlgorithm (RFC 5246 7.4.1.4.1,
// RFC 8446 4.2.3 for the 0x08xx schemes) with CFSSL's names.
type sigAlg struct {
	code      uint16
	Hash      string `json:"hash"`
	Signature string `json:"signature"`
}

var sigAlgs = []sigAlg{
	{0x0201, "SHA1", "RSA"}, {0x0401, "SHA256", "RSA"}, {0x0501, "SHA384", "RSA"}, {0x0601, "SHA512", "RSA"},
	{0x0203, "SHA1", "ECDSA"}, {0x0403, "SHA256", "ECDSA"}, {0x0503, "SHA384", "ECDSA"}, {0x0603, "SHA512", "ECDSA"},
	{0x0804, "SHA256", "RSAPSS"}, {0x0805, "SHA384", "RSAPSS"}, {0x0806, "SHA512", "RSAPSS"},
	{0x0807, "Intrinsic", "Ed25519"},
}

func (s sigAlg) String() string { return "{" + s.Signature + "," + s.Hash + "}" }

// sigAlgsExtension is a signature_algorithms extension with exactly the
// codes given: zcrypto's own one only accepts the pairs it can verify.
type sigAlgsExtension struct{ codes []uint16 }

func (e *sigAlgsExtension) WriteToConfig(*ztls.Config) error { return nil }
func (e *sigAlgsExtension) CheckImplemented() error          { return nil }
func (e *sigAlgsExtension) Marshal() []byte {
	n := 2 * len(e.codes)
	b := []byte{0, 13, byte((n + 2) >> 8), byte(n + 2), byte(n >> 8), byte(n)}
	for _, c := range e.codes {
		b = append(b, byte(c>>8), byte(c))
	}
	return b
}

// ephemeralSuites are the TLS 1.2 suites whose ServerKeyExchange the server
// signs, so the offered signature algorithm decides the handshake.
var ephemeralSuites = func() []uint16 {
	var out []uint16
	for _, id := range suitesLegacy {
		if forwardSecret(id) {
			out = append(out, id)
		}
	}
	return out
}()

// sigAlgHello is a TLS 1.2 ClientHello offering one signature algorithm.
func sigAlgHello(sni string, p probe) *ztls.ClientFingerprintConfiguration {
	exts := []ztls.ClientExtension{
		&ztls.SupportedCurvesExtension{Curves: []ztls.CurveID{ztls.X25519, ztls.CurveP256, ztls.CurveP384, ztls.CurveP521}},
		&ztls.PointFormatExtension{Formats: []uint8{0}},
		&sigAlgsExtension{codes: []uint16{p.sigAlg}},
	}
	if sni != "" {
		exts = append([]ztls.ClientExtension{&ztls.SNIExtension{Domains: []string{sni}}}, exts...)
	}
	return &ztls.ClientFingerprintConfiguration{
		HandshakeVersion:   ztls.VersionTLS12,
		CipherSuites:       p.suites,
		CompressionMethods: []uint8{0},
		Extensions:         exts,
	}
}

// sigAlgAccepted reports whether the server signs its key exchange with
// alg, and the leaf it sends when it does.
func (c *checker) sigAlgAccepted(ctx context.Context, e *env, alg sigAlg) (*x509.Certificate, bool, error) {
	h, err := c.sayHello(ctx, e.t, e.addr(), probe{version: ztls.VersionTLS12, suites: ephemeralSuites, sigAlg: alg.code})
	if errors.Is(err, errNoHello) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !h.skx || len(h.certs) == 0 {
		return nil, false, nil
	}
	return h.certs[0], true, nil
}

func sigAlgsScan(ctx context.Context, e *env) error {
	out := []sigAlg{}
	for _, a := range sigAlgs {
		_, ok, err := e.c.sigAlgAccepted(ctx, e, a)
		if err != nil {
			return e.fail(err)
		}
		if ok {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return e.emit(sdk.GradeBad, "no SigAlgs supported (TLS 1.2 with an ephemeral key exchange)", out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

func certsBySigAlgs(ctx context.Context, e *env) error {
	out := map[string]string{}
	for _, a := range sigAlgs {
		leaf, ok, err := e.c.sigAlgAccepted(ctx, e, a)
		if err != nil {
			return e.fail(err)
		}
		if ok {
			out[a.String()] = signatureString(leaf.SignatureAlgorithm)
		}
	}
	if len(out) == 0 {
		return e.emit(sdk.GradeBad, "no SigAlgs supported (TLS 1.2 with an ephemeral key exchange)", out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

// certsByCiphers maps each suite the server accepts at TLS 1.2 (or the
// newest version it speaks) to the signature algorithm of the leaf it
// sends for it.
func certsByCiphers(ctx context.Context, e *env) error {
	out := map[string]string{}
	for _, v := range []uint16{ztls.VersionTLS12, ztls.VersionTLS11, ztls.VersionTLS10, ztls.VersionSSL30} {
		vs, err := e.c.enumerate(ctx, e.t, e.addr(), v)
		if err != nil {
			return e.fail(err)
		}
		for _, a := range vs.suites {
			// Each suite alone, so the server picks the certificate for it.
			h, err := e.c.sayHello(ctx, e.t, e.addr(), probe{version: v, suites: []uint16{a.suite}, curves: groupsFor(v)})
			if err != nil || len(h.certs) == 0 {
				continue
			}
			out[suiteName(a.suite)] = signatureString(h.certs[0].SignatureAlgorithm)
		}
		if len(vs.suites) > 0 {
			break
		}
	}
	if len(out) == 0 {
		return e.emit(sdk.GradeBad, "no cipher supported up to TLS 1.2", out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

// signatureString names a certificate signature algorithm as CFSSL does.
func signatureString(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.MD2WithRSA:
		return "MD2WithRSA"
	case x509.MD5WithRSA:
		return "MD5WithRSA"
	case x509.SHA1WithRSA:
		return "SHA1WithRSA"
	case x509.SHA256WithRSA:
		return "SHA256WithRSA"
	case x509.SHA384WithRSA:
		return "SHA384WithRSA"
	case x509.SHA512WithRSA:
		return "SHA512WithRSA"
	case x509.SHA256WithRSAPSS:
		return "SHA256WithRSAPSS"
	case x509.SHA384WithRSAPSS:
		return "SHA384WithRSAPSS"
	case x509.SHA512WithRSAPSS:
		return "SHA512WithRSAPSS"
	case x509.DSAWithSHA1:
		return "DSAWithSHA1"
	case x509.DSAWithSHA256:
		return "DSAWithSHA256"
	case x509.ECDSAWithSHA1:
		return "ECDSAWithSHA1"
	case x509.ECDSAWithSHA256:
		return "ECDSAWithSHA256"
	case x509.ECDSAWithSHA384:
		return "ECDSAWithSHA384"
	case x509.ECDSAWithSHA512:
		return "ECDSAWithSHA512"
	case x509.PureEd25519:
		return "Ed25519"
	}
	return fmt.Sprintf("Unknown(%s)", a)
}

func ecCurves(ctx context.Context, e *env) error {
	out := []string{}
	seen := map[ztls.CurveID]bool{}
	for _, v := range []uint16{ztls.VersionTLS13, ztls.VersionTLS12, ztls.VersionTLS11, ztls.VersionTLS10} {
		suites := suitesTLS13
		if v != ztls.VersionTLS13 {
			suites = ephemeralECDHE()
		}
		offer := groupsFor(v)
		for len(offer) > 0 {
			h, err := e.c.sayHello(ctx, e.t, e.addr(), probe{version: v, suites: suites, curves: offer})
			if errors.Is(err, errNoHello) {
				break
			}
			if err != nil {
				return e.fail(err)
			}
			if h.curve == 0 || !containsCurve(offer, h.curve) {
				break
			}
			if !seen[h.curve] {
				seen[h.curve] = true
				out = append(out, groupName(h.curve))
			}
			offer = removeCurve(offer, h.curve)
		}
	}
	if len(out) == 0 {
		return e.emit(sdk.GradeWarning, "no elliptic curve group negotiated from TLS 1.0 to 1.3", out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

func ephemeralECDHE() []uint16 {
	var out []uint16
	for _, id := range suitesLegacy {
		if ecdheSuite(id) {
			out = append(out, id)
		}
	}
	return out
}
