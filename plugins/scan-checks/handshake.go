package scanchecks

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pkid/pkid/sdk"
	ztls "github.com/zmap/zcrypto/tls"
)

// maxAccepted bounds the suites enumerated per version: no real server
// accepts more, and a server that accepts everything must not loop.
const maxAccepted = 128

func tlsHandshakeFamily() *family {
	return &family{name: "TLSHandshake", desc: "Scans for host's SSL/TLS version and cipher suite negotiation", checks: []*check{
		{"CipherSuite", "Determines host's cipher suites accepted and preferred order, SSL 3.0 to TLS 1.3", cipherSuiteScan},
		{"SigAlgs", "Determines host's accepted signature and hash algorithms (TLS 1.2)", sigAlgsScan},
		{"CertsBySigAlgs", "Determines host's certificate signature algorithm matching client's accepted signature and hash algorithms", certsBySigAlgs},
		{"CertsByCiphers", "Determines host's certificate signature algorithm matching client's accepted ciphers", certsByCiphers},
		{"ECCurves", "Determines the host's elliptic curve (group) support, TLS 1.0 to 1.3", ecCurves},
		{"Versions", "Protocol versions accepted: Bad for SSL 3.0, Warning for TLS 1.0/1.1 or no TLS 1.2/1.3", versionsScan},
		{"CipherFlaws", "Accepted suites without forward secrecy, or with NULL, anonymous, EXPORT, RC4, DES, 3DES or CBC", cipherFlaws},
		{"KeyExchange", "Finite-field DH at least 2048 bits and ECDH groups at least 256 bits", keyExchange},
		{"ALPN", "Application protocols (h2, http/1.1) the host negotiates", alpnScan},
	}}
}

// accepted is one suite the server accepts at one version.
type accepted struct {
	suite  uint16
	hello  *hello
	groups []ztls.CurveID // for ECDHE and TLS 1.3 suites, in server order
}

// versionScan is what the server accepts at one version.
type versionScan struct {
	version uint16
	suites  []accepted // server preference order
}

// enumerate walks the server's preference order at version v: offer every
// suite, remove the chosen one, repeat until the server refuses.
func (c *checker) enumerate(ctx context.Context, t *target, addr string, v uint16) (*versionScan, error) {
	vs := &versionScan{version: v}
	offer := allSuites(v)
	for len(offer) > 0 && len(vs.suites) < maxAccepted {
		h, err := c.sayHello(ctx, t, addr, probe{version: v, suites: offer, curves: groupsFor(v)})
		if errors.Is(err, errNoHello) {
			break
		}
		if err != nil {
			return nil, err
		}
		vs.suites = append(vs.suites, accepted{suite: h.suite, hello: h})
		offer = removeU16(offer, h.suite)
	}
	return vs, nil
}

// groups walks the server's group preference at v for a suite.
func (c *checker) groups(ctx context.Context, t *target, addr string, v, suite uint16) ([]ztls.CurveID, error) {
	var out []ztls.CurveID
	offer := groupsFor(v)
	for len(offer) > 0 {
		h, err := c.sayHello(ctx, t, addr, probe{version: v, suites: []uint16{suite}, curves: offer})
		if errors.Is(err, errNoHello) {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.curve == 0 || !containsCurve(offer, h.curve) {
			break
		}
		out = append(out, h.curve)
		offer = removeCurve(offer, h.curve)
	}
	return out, nil
}

// scanAll enumerates every version, with the groups of each version (found
// once per version with its first ECDHE or TLS 1.3 suite).
func (c *checker) scanAll(ctx context.Context, t *target, addr string) ([]*versionScan, error) {
	var out []*versionScan
	for _, v := range allVersions {
		vs, err := c.enumerate(ctx, t, addr, v)
		if err != nil {
			return nil, err
		}
		if len(vs.suites) == 0 {
			continue
		}
		var groups []ztls.CurveID
		for i, a := range vs.suites {
			if v != ztls.VersionTLS13 && !ecdheSuite(a.suite) {
				continue
			}
			if groups == nil {
				if groups, err = c.groups(ctx, t, addr, v, a.suite); err != nil {
					return nil, err
				}
			}
			vs.suites[i].groups = groups
		}
		out = append(out, vs)
	}
	return out, nil
}

func removeU16(s []uint16, v uint16) []uint16 {
	out := s[:0:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func containsCurve(s []ztls.CurveID, v ztls.CurveID) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func removeCurve(s []ztls.CurveID, v ztls.CurveID) []ztls.CurveID {
	var out []ztls.CurveID
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// scanOrFail runs scanAll, reporting a failure as a finding; ok is false
// when it did.
func scanOrFail(ctx context.Context, e *env) ([]*versionScan, bool, error) {
	scans, err := e.c.scanAll(ctx, e.t, e.addr())
	if err != nil {
		return nil, false, e.fail(err)
	}
	if len(scans) == 0 {
		return nil, false, e.emit(sdk.GradeBad, "couldn't negotiate any cipher suites", nil)
	}
	return scans, true, nil
}

// cipherSuiteOutput is CFSSL's shape: [{"<suite>": ["TLS 1.2", {"TLS 1.2": ["secp256r1"]}]}],
// suites in the order first seen, newest version first.
func cipherSuiteOutput(scans []*versionScan) []map[string][]any {
	var order []uint16
	per := map[uint16][]any{}
	for _, vs := range scans {
		for _, a := range vs.suites {
			if _, seen := per[a.suite]; !seen {
				order = append(order, a.suite)
			}
			var item any = versionName(vs.version)
			if len(a.groups) > 0 {
				names := make([]string, len(a.groups))
				for i, g := range a.groups {
					names[i] = groupName(g)
				}
				item = map[string][]string{versionName(vs.version): names}
			}
			per[a.suite] = append(per[a.suite], item)
		}
	}
	out := make([]map[string][]any, len(order))
	for i, id := range order {
		out[i] = map[string][]any{suiteName(id): per[id]}
	}
	return out
}

// cipherSuiteScan grades like CFSSL: Warning when SSL 3.0 is accepted.
func cipherSuiteScan(ctx context.Context, e *env) error {
	scans, ok, err := scanOrFail(ctx, e)
	if !ok {
		return err
	}
	out := cipherSuiteOutput(scans)
	for _, vs := range scans {
		if vs.version == ztls.VersionSSL30 {
			return e.emit(sdk.GradeWarning, "SSL 3.0 accepted", out)
		}
	}
	return e.emit(sdk.GradeGood, "", out)
}

func versionsScan(ctx context.Context, e *env) error {
	var offered []string
	has := map[uint16]bool{}
	for _, v := range allVersions {
		vs, err := e.c.enumerateOne(ctx, e.t, e.addr(), v)
		if err != nil {
			return e.fail(err)
		}
		if vs {
			offered = append(offered, versionName(v))
			has[v] = true
		}
	}
	switch {
	case len(offered) == 0:
		return e.emit(sdk.GradeBad, "no protocol version from SSL 3.0 to TLS 1.3 accepted", offered)
	case has[ztls.VersionSSL30]:
		return e.emit(sdk.GradeBad, "SSL 3.0 accepted (POODLE; RFC 7568 forbids it)", offered)
	case has[ztls.VersionTLS10] || has[ztls.VersionTLS11]:
		var old []string
		for _, v := range []uint16{ztls.VersionTLS10, ztls.VersionTLS11} {
			if has[v] {
				old = append(old, versionName(v))
			}
		}
		return e.emit(sdk.GradeWarning, strings.Join(old, " and ")+" accepted (RFC 8996 deprecates them)", offered)
	case !has[ztls.VersionTLS12] && !has[ztls.VersionTLS13]:
		return e.emit(sdk.GradeWarning, "neither TLS 1.2 nor TLS 1.3 accepted", offered)
	}
	return e.emit(sdk.GradeGood, "", offered)
}

// enumerateOne reports whether the server accepts version v at all.
func (c *checker) enumerateOne(ctx context.Context, t *target, addr string, v uint16) (bool, error) {
	_, err := c.sayHello(ctx, t, addr, probe{version: v, suites: allSuites(v), curves: groupsFor(v)})
	if errors.Is(err, errNoHello) {
		return false, nil
	}
	return err == nil, err
}

func cipherFlaws(ctx context.Context, e *env) error {
	scans, ok, err := scanOrFail(ctx, e)
	if !ok {
		return err
	}
	out := map[string][]string{}
	var bad, warn []string
	fs := false
	for _, vs := range scans {
		for _, a := range vs.suites {
			name := suiteName(a.suite)
			if forwardSecret(a.suite) {
				fs = true
			}
			if _, seen := out[name]; seen {
				continue
			}
			flaws := suiteFlaws(a.suite)
			if len(flaws) == 0 {
				continue
			}
			out[name] = flaws
			msg := fmt.Sprintf("%s (%s)", name, strings.Join(flaws, ", "))
			isBad := false
			for _, f := range flaws {
				isBad = isBad || badFlaws[f]
			}
			if isBad {
				bad = append(bad, msg)
			} else {
				warn = append(warn, msg)
			}
		}
	}
	switch {
	case len(bad) > 0:
		return e.emit(sdk.GradeBad, "accepted: "+strings.Join(append(bad, warn...), "; "), out)
	case !fs:
		return e.emit(sdk.GradeBad, "no forward-secret suite accepted", out)
	case len(warn) > 0:
		return e.emit(sdk.GradeWarning, "accepted: "+strings.Join(warn, "; "), out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

// keyExchangeOutput reports group names and DH sizes per version.
type keyExchangeOutput struct {
	ECDH   map[string][]string `json:"ecdh,omitempty"`
	DHBits map[string]int      `json:"dh_bits,omitempty"`
}

func keyExchange(ctx context.Context, e *env) error {
	scans, ok, err := scanOrFail(ctx, e)
	if !ok {
		return err
	}
	out := keyExchangeOutput{ECDH: map[string][]string{}, DHBits: map[string]int{}}
	var bad, warn []string
	for _, vs := range scans {
		vn := versionName(vs.version)
		for _, a := range vs.suites {
			if a.hello.dhBits > 0 {
				if cur, ok := out.DHBits[vn]; !ok || a.hello.dhBits < cur {
					out.DHBits[vn] = a.hello.dhBits
				}
			}
			if len(a.groups) > 0 && out.ECDH[vn] == nil {
				for _, g := range a.groups {
					out.ECDH[vn] = append(out.ECDH[vn], groupName(g))
					if bits, known := groupBits[g]; known && bits < 256 {
						bad = append(bad, fmt.Sprintf("%s group %s below 256 bits", vn, groupName(g)))
					}
				}
			}
		}
	}
	vns := make([]string, 0, len(out.DHBits))
	for vn := range out.DHBits {
		vns = append(vns, vn)
	}
	sort.Strings(vns)
	for _, vn := range vns {
		switch bits := out.DHBits[vn]; {
		case bits < 1024:
			bad = append(bad, fmt.Sprintf("%s DH group of %d bits (Logjam)", vn, bits))
		case bits < 2048:
			warn = append(warn, fmt.Sprintf("%s DH group of %d bits, below 2048", vn, bits))
		}
	}
	switch {
	case len(bad) > 0:
		return e.emit(sdk.GradeBad, strings.Join(append(bad, warn...), "; "), out)
	case len(warn) > 0:
		return e.emit(sdk.GradeWarning, strings.Join(warn, "; "), out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

// ALPN protocols offered, client preference first.
var alpnOffered = []string{"h2", "http/1.1"}

func alpnScan(ctx context.Context, e *env) error {
	var out []string
	for _, p := range alpnOffered {
		cfg := e.c.tlsConfig(e.t, false)
		cfg.NextProtos = []string{p}
		st, err := e.c.goHandshake(ctx, e.addr(), cfg)
		if err != nil && strings.Contains(err.Error(), "no application protocol") {
			continue // RFC 7301 3.2: the server refuses every protocol offered
		}
		if err != nil {
			return e.fail(err)
		}
		if st.NegotiatedProtocol == p {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return e.emit(sdk.GradeWarning, "no ALPN protocol negotiated (h2 and http/1.1 offered)", []string{})
	}
	return e.emit(sdk.GradeGood, "", out)
}
