package scanchecks_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	scanchecks "github.com/pkid/pkid/plugins/scan-checks"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
	ztls "github.com/zmap/zcrypto/tls"
	"golang.org/x/crypto/ocsp"
)

// endpoints are the loopback servers the flaw tests scan, by name.
type endpoints map[string]string

const strongHSTS = "max-age=63072000; includeSubDomains; preload"

var modernSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305}

// modernConfig follows the Mozilla intermediate configuration: TLS 1.2 and
// 1.3, AEAD ECDHE suites, the listed groups, an ECDSA leaf of 89 days with
// a stapled OCSP response.
func modernConfig(t *testing.T, ca *testCA) *tls.Config {
	leaf := ca.issue(t, leafOpts{})
	leaf.OCSPStaple = ca.ocspResponse(t, leaf.Leaf, ocsp.Good)
	return &tls.Config{
		Certificates:     []tls.Certificate{leaf},
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     modernSuites,
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384},
	}
}

func startEndpoints(t *testing.T, ca *testCA) endpoints {
	ep := endpoints{}
	ep["modern"] = serveGo(t, modernConfig(t, ca), strongHSTS)

	tls13 := modernConfig(t, ca)
	tls13.MinVersion = tls.VersionTLS13
	ep["tls13"] = serveGo(t, tls13, strongHSTS)

	plain := func(o leafOpts) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{ca.issue(t, o)}, MinVersion: tls.VersionTLS12}
	}
	ep["expired"] = serveGo(t, plain(leafOpts{notBefore: time.Now().Add(-100 * 24 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)}), "")
	ep["soon"] = serveGo(t, plain(leafOpts{notAfter: time.Now().Add(10 * 24 * time.Hour)}), "max-age=300")
	ep["selfsigned"] = serveGo(t, plain(leafOpts{selfSigned: true}), "")
	ep["wronghost"] = serveGo(t, plain(leafOpts{dns: []string{"other.example"}, noIP: true}), "")
	ep["weakkey"] = serveGo(t, plain(leafOpts{key: rsaKey(t, 1024)}), "")
	ep["longlived"] = serveGo(t, plain(leafOpts{notAfter: time.Now().Add(800 * 24 * time.Hour)}), "")

	// 3DES and CBC next to AEAD suites, from Go's crypto/tls.
	tdes := plain(leafOpts{key: rsaKey(t, 2048)})
	tdes.MaxVersion = tls.VersionTLS12
	tdes.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}
	ep["3des"] = serveGo(t, tdes, "")

	// RC4 (and static RSA) from zcrypto's server, down to TLS 1.0.
	legacy := ca.issue(t, leafOpts{key: rsaKey(t, 2048)})
	ep["legacy"] = serveZ(t, &ztls.Config{
		Certificates: []ztls.Certificate{zcert(legacy)},
		MinVersion:   ztls.VersionTLS10, MaxVersion: ztls.VersionTLS12,
		CipherSuites: []uint16{ztls.TLS_RSA_WITH_RC4_128_SHA, ztls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, ztls.TLS_RSA_WITH_AES_128_CBC_SHA},
	})

	ep["revoked-ocsp"], ep["revoked-crl"], ep["good-ocsp"] = serveRevocation(t, ca)

	staple := plain(leafOpts{})
	staple.Certificates[0].OCSPStaple = ca.ocspResponse(t, staple.Certificates[0].Leaf, ocsp.Revoked)
	ep["staple-revoked"] = serveGo(t, staple, "")

	ep["withroot"] = serveGo(t, plain(leafOpts{includeRoot: true}), "")
	ep["sha1"] = serveGo(t, plain(leafOpts{sigAlg: x509.ECDSAWithSHA1}), "")
	ep["badhsts"] = serveGo(t, plain(leafOpts{}), "max-age=abc")
	ep["nohttp"] = serveTLSOnly(t, plain(leafOpts{}))
	// What neither Go, zcrypto nor Debian's openssl serves any more: the
	// ServerHello of an EXPORT suite, and of SSL 3.0.
	ep["export"] = serveRecorded(t, ztls.VersionTLS10, 0x0003) // TLS_RSA_EXPORT_WITH_RC4_40_MD5
	ep["ssl3"] = serveRecorded(t, ztls.VersionSSL30, 0x0005)   // TLS_RSA_WITH_RC4_128_SHA
	ep["closed"] = freePort(t)
	return ep
}

// serveRevocation starts a responder and three servers whose leaves it
// answers for: revoked by OCSP, revoked by CRL, good by OCSP.
func serveRevocation(t *testing.T, ca *testCA) (string, string, string) {
	revoked := &serials{set: map[int64]bool{}}
	url := serveOCSP(t, ca, revoked)
	mk := func(o leafOpts, revoke bool) string {
		c := ca.issue(t, o)
		if revoke {
			revoked.add(c.Leaf.SerialNumber.Int64())
		}
		return serveGo(t, &tls.Config{Certificates: []tls.Certificate{c}}, "")
	}
	return mk(leafOpts{ocsp: url}, true), mk(leafOpts{crl: url + "/crl"}, true), mk(leafOpts{ocsp: url}, false)
}

// openSSLEndpoints are the servers only openssl can run here: TLS 1.0/1.1
// at security level 0, and finite-field DHE with a 1024-bit group.
func openSSLEndpoints(t *testing.T, ca *testCA, ep endpoints) {
	rsaLeaf := ca.issue(t, leafOpts{key: rsaKey(t, 2048)})
	ep["tls10"] = serveOpenSSL(t, rsaLeaf, "-min_protocol", "TLSv1", "-max_protocol", "TLSv1.1", "-cipher", "ECDHE-RSA-AES128-SHA:AES128-SHA:@SECLEVEL=0")
	dh, err := filepath.Abs(filepath.Join("testdata", "dh1024.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// OpenSSL's defaults (TLS 1.2 and 1.3): no X25519MLKEM768 in 3.0, so
	// the TLS 1.3 probes go through a HelloRetryRequest.
	ep["openssl"] = serveOpenSSL(t, ca.issue(t, leafOpts{}))
	ep["dhe1024"] = serveOpenSSL(t, rsaLeaf, "-min_protocol", "TLSv1.2", "-max_protocol", "TLSv1.2", "-cipher", "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0", "-dhparam", dh)
}

// expect is one finding a check must make against an endpoint.
type expect struct {
	endpoint, family, check string
	grade                   sdk.Grade
	reason                  string // substring of the reason ("" = any)
	output                  string // substring of the JSON output ("" = any)
}

func run(t *testing.T, sc sdk.ScanCheck, host, family, check string) []sdk.Finding {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out []sdk.Finding
	err := sc.Run(ctx, sdk.ScanRequest{Family: family, Check: check, Host: host}, func(f *sdk.Finding) error {
		out = append(out, *f)
		return nil
	})
	if err != nil {
		t.Fatalf("Run(%s/%s, %s): %v", family, check, host, err)
	}
	if len(out) != 1 {
		t.Fatalf("Run(%s/%s, %s): %d findings, want 1: %+v", family, check, host, len(out), out)
	}
	return out
}

func TestFlawedEndpoints(t *testing.T) {
	ca := newTestCA(t)
	ep := startEndpoints(t, ca)
	openSSLEndpoints(t, ca, ep)
	sc := newInstance(t, fmt.Sprintf(`{"ca_file":%q,"dial_timeout":"5s","fetch_revocation":true}`, ca.roots()))
	noFetch := newInstance(t, fmt.Sprintf(`{"ca_file":%q,"dial_timeout":"5s"}`, ca.roots()))
	grpc := plugintest.ServeGRPC(t, scanchecks.New())
	plugintest.Configure(t, grpc, sdk.KindScanCheck, "flaws", map[string]any{"ca_file": ca.roots(), "dial_timeout": "5s"})
	overGRPC := grpc.ScanCheck("flaws")
	sc57 := newInstance(t, fmt.Sprintf(`{"ca_file":%q,"dial_timeout":"5s","mozilla_guidelines":"5.7"}`, ca.roots()))

	cases := []expect{
		// A modern endpoint, and a TLS 1.3-only one, grade Good.
		{"modern", "Mozilla", "Intermediate", sdk.GradeGood, "", `"failures":[]`},
		{"modern", "TLSHandshake", "CipherSuite", sdk.GradeGood, "grpc", `"TLS_AES_128_GCM_SHA256":[{"TLS 1.3":`},
		{"legacy", "TLSHandshake", "CipherFlaws", sdk.GradeBad, "grpc", `"TLS_RSA_WITH_RC4_128_SHA":["RC4","NO_FS"]`},
		{"modern", "Mozilla", "Modern", sdk.GradeBad, "TLS 1.2 offered; modern 6.0 allows TLS 1.3", ""},
		{"modern", "TLSHandshake", "Versions", sdk.GradeGood, "", `["TLS 1.3","TLS 1.2"]`},
		{"modern", "TLSHandshake", "CipherFlaws", sdk.GradeGood, "", "{}"},
		{"modern", "TLSHandshake", "CipherSuite", sdk.GradeGood, "", `{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256":[{"TLS 1.2":["x25519","secp256r1","secp384r1"]}]}`},
		{"modern", "TLSHandshake", "ECCurves", sdk.GradeGood, "", `"X25519MLKEM768","x25519","secp256r1","secp384r1"]`},
		{"modern", "TLSHandshake", "SigAlgs", sdk.GradeGood, "", `{"hash":"SHA256","signature":"ECDSA"}`},
		{"modern", "TLSHandshake", "CertsBySigAlgs", sdk.GradeGood, "", `"{ECDSA,SHA256}":"ECDSAWithSHA256"`},
		{"modern", "TLSHandshake", "CertsByCiphers", sdk.GradeGood, "", `"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256":"ECDSAWithSHA256"`},
		{"modern", "TLSHandshake", "KeyExchange", sdk.GradeGood, "", `"TLS 1.2":["x25519","secp256r1","secp384r1"]`},
		{"modern", "TLSHandshake", "ALPN", sdk.GradeGood, "", `["h2","http/1.1"]`},
		{"modern", "Connectivity", "TLSDial", sdk.GradeGood, "", ""},
		{"modern", "Connectivity", "DNSLookup", sdk.GradeGood, "", `["127.0.0.1"]`},
		{"modern", "Connectivity", "CloudFlareStatus", sdk.GradeBad, "not in Cloudflare's ranges: 127.0.0.1", `{"127.0.0.1":false}`},
		{"modern", "Connectivity", "TCPDial", sdk.GradeGood, "", ""},
		{"modern", "Connectivity", "IPv4", sdk.GradeGood, "", `{"127.0.0.1":true}`},
		{"modern", "Connectivity", "IPv6", sdk.GradeSkipped, "no IPv6 address", ""},
		{"modern", "PKI", "MultipleCerts", sdk.GradeGood, "", ""},
		{"modern", "PKI", "SignatureAlgorithm", sdk.GradeGood, "", `["ECDSA-SHA256","ECDSA-SHA256"]`},
		{"modern", "PKI", "ChainValidation", sdk.GradeGood, "", ""},
		{"modern", "PKI", "ChainOrder", sdk.GradeGood, "", ""},
		{"modern", "PKI", "HostnameMatch", sdk.GradeGood, "", `"127.0.0.1"`},
		{"modern", "PKI", "KeySize", sdk.GradeGood, "", `{"type":"ECDSA","bits":256}`},
		{"modern", "PKI", "OCSPStapling", sdk.GradeGood, "", `"status":"good"`},
		{"modern", "PKI", "Revocation", sdk.GradeSkipped, "names no OCSP responder or CRL", ""},
		{"modern", "HTTP", "HSTS", sdk.GradeGood, "", `"max_age":63072000,"include_subdomains":true,"preload":true`},
		{"modern", "TLSSession", "SessionResume", sdk.GradeGood, "", `{"127.0.0.1":true}`},
		{"modern", "TLSSession", "SessionTickets", sdk.GradeGood, "", `{"TLS 1.2":true,"TLS 1.3":true}`},
		{"modern", "Broad", "IntermediateCAs", sdk.GradeGood, "", `"subject":"CN=pkid scan test intermediate"`},
		{"modern", "Broad", "IntermediateCAs", sdk.GradeGood, "", `"known":true`},
		{"selfsigned", "Broad", "IntermediateCAs", sdk.GradeSkipped, "no intermediate CA", ""},
		{"sha1", "PKI", "SignatureAlgorithm", sdk.GradeBad, `"localhost" is signed with ECDSA-SHA1`, ""},
		{"sha1", "PKI", "ChainValidation", sdk.GradeWarning, "localhost is signed by ECDSAWithSHA1", ""},
		{"sha1", "Mozilla", "Intermediate", sdk.GradeBad, "certificate signed with ecdsa-with-SHA1; intermediate 6.0 allows", ""},
		{"withroot", "PKI", "ChainOrder", sdk.GradeWarning, "the chain includes the root CN=pkid scan test root", ""},
		{"tls13", "Mozilla", "Modern", sdk.GradeGood, "", `"failures":[]`},
		{"tls13", "Mozilla", "Intermediate", sdk.GradeGood, "", ""},
		{"tls13", "TLSHandshake", "Versions", sdk.GradeGood, "", `["TLS 1.3"]`},
		{"tls13", "TLSHandshake", "CipherSuite", sdk.GradeGood, "", `"TLS_AES_128_GCM_SHA256":[{"TLS 1.3":`},
		{"tls13", "TLSHandshake", "CertsByCiphers", sdk.GradeBad, "no cipher supported up to TLS 1.2", ""},
		// Guidelines 5.7 do not list the post-quantum group 6.0 added.
		{"tls13", "Mozilla", "Modern", sdk.GradeBad, "group X25519MLKEM768 offered; modern 5.7 allows X25519, prime256v1, secp384r1", ""},

		// Certificates.
		{"expired", "PKI", "ChainExpiration", sdk.GradeBad, "expired at", ""},
		{"expired", "Connectivity", "TLSDial", sdk.GradeWarning, "expired", ""},
		{"soon", "PKI", "ChainExpiration", sdk.GradeWarning, "expires within 30 days", ""},
		{"modern", "PKI", "ChainExpiration", sdk.GradeGood, "", ""},
		{"selfsigned", "Connectivity", "TLSDial", sdk.GradeWarning, "unknown authority", ""},
		{"selfsigned", "PKI", "ChainOrder", sdk.GradeGood, "", ""},
		{"wronghost", "PKI", "HostnameMatch", sdk.GradeBad, "not valid for 127.0.0.1", `["other.example"]`},
		{"wronghost", "Connectivity", "TLSDial", sdk.GradeWarning, "127.0.0.1", ""},
		{"weakkey", "PKI", "KeySize", sdk.GradeBad, "RSA key of 1024 bits", `"bits":1024`},
		{"weakkey", "Mozilla", "Intermediate", sdk.GradeBad, "RSA key of 1024 bits; intermediate 6.0 needs 2048", ""},
		{"longlived", "Mozilla", "Intermediate", sdk.GradeBad, "certificate lifespan of 801 days; intermediate 6.0 allows 366", ""},
		{"soon", "HTTP", "HSTS", sdk.GradeWarning, "max-age 300 is below six months", ""},
		{"expired", "HTTP", "HSTS", sdk.GradeWarning, "no Strict-Transport-Security header", ""},
		{"badhsts", "HTTP", "HSTS", sdk.GradeBad, `malformed Strict-Transport-Security header: max-age "abc"`, `{"header":"max-age=abc"}`},
		{"nohttp", "HTTP", "HSTS", sdk.GradeSkipped, "no HTTP response", ""},
		// HSTS is an HTTP rule: a service that is not HTTP is not graded on it.
		{"nohttp", "Mozilla", "Intermediate", sdk.GradeBad, "group secp521r1 offered", `"warnings":["no OCSP response stapled; intermediate 6.0 recommends stapling"]`},

		// Protocols and suites.
		{"3des", "TLSHandshake", "CipherFlaws", sdk.GradeWarning, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA (3DES, CBC)", ""},
		{"3des", "Mozilla", "Intermediate", sdk.GradeBad, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA offered at TLS 1.2; intermediate 6.0 does not allow it", ""},
		{"legacy", "TLSHandshake", "Versions", sdk.GradeWarning, "TLS 1.0 and TLS 1.1 accepted", `["TLS 1.2","TLS 1.1","TLS 1.0"]`},
		{"legacy", "TLSHandshake", "CipherSuite", sdk.GradeGood, "", `{"TLS_RSA_WITH_RC4_128_SHA":["TLS 1.2","TLS 1.1","TLS 1.0"]}`},
		{"legacy", "TLSHandshake", "CipherFlaws", sdk.GradeBad, "TLS_RSA_WITH_RC4_128_SHA (RC4, NO_FS)", ""},
		{"legacy", "Mozilla", "Intermediate", sdk.GradeBad, "TLS 1.0 offered; intermediate 6.0 allows TLS 1.2, TLS 1.3", ""},
		{"legacy", "Connectivity", "TLSDial", sdk.GradeBad, "current clients refuse", ""},
		{"ssl3", "TLSHandshake", "Versions", sdk.GradeBad, "SSL 3.0 accepted", `["SSL 3.0"]`},
		{"ssl3", "TLSHandshake", "CipherSuite", sdk.GradeWarning, "SSL 3.0 accepted", `[{"TLS_RSA_WITH_RC4_128_SHA":["SSL 3.0"]}]`},
		{"ssl3", "TLSHandshake", "CipherFlaws", sdk.GradeBad, "TLS_RSA_WITH_RC4_128_SHA (RC4, NO_FS)", ""},
		{"tls10", "TLSHandshake", "Versions", sdk.GradeWarning, "TLS 1.0 and TLS 1.1 accepted", `["TLS 1.1","TLS 1.0"]`},
		{"tls10", "Mozilla", "Intermediate", sdk.GradeBad, "TLS 1.0 offered; intermediate 6.0 allows TLS 1.2, TLS 1.3", ""},
		{"tls10", "TLSSession", "SessionIDs", sdk.GradeSkipped, "TLS 1.2 not spoken", ""},
		{"dhe1024", "TLSHandshake", "KeyExchange", sdk.GradeWarning, "TLS 1.2 DH group of 1024 bits, below 2048", `"dh_bits":{"TLS 1.2":1024}`},
		{"dhe1024", "Mozilla", "Intermediate", sdk.GradeBad, "DH group of 1024 bits; intermediate 6.0 needs 2048", ""},
		{"dhe1024", "TLSSession", "SessionIDs", sdk.GradeGood, "", `{"TLS 1.2":true}`},
		{"modern", "TLSSession", "SessionIDs", sdk.GradeWarning, "gives no session ID", ""},
		{"openssl", "TLSHandshake", "Versions", sdk.GradeGood, "", `["TLS 1.3","TLS 1.2"]`},
		{"openssl", "TLSHandshake", "CipherSuite", sdk.GradeGood, "", `"TLS_AES_256_GCM_SHA384":[{"TLS 1.3":["x25519",`},
		{"openssl", "TLSSession", "SessionTickets", sdk.GradeGood, "", `"TLS 1.3":true`},
		{"openssl", "TLSSession", "SessionIDs", sdk.GradeGood, "", `{"TLS 1.2":true}`},
		{"openssl", "PKI", "ChainValidation", sdk.GradeGood, "", ""},
		{"export", "TLSHandshake", "CipherFlaws", sdk.GradeBad, "TLS_RSA_EXPORT_WITH_RC4_40_MD5 (EXPORT, RC4, NO_FS)", ""},
		{"export", "TLSHandshake", "CipherSuite", sdk.GradeGood, "", `[{"TLS_RSA_EXPORT_WITH_RC4_40_MD5":["TLS 1.0"]}]`},

		// Revocation, fetched and stapled.
		{"revoked-ocsp", "PKI", "Revocation", sdk.GradeBad, "the leaf is revoked (OCSP)", ""},
		{"revoked-ocsp", "PKI", "ChainValidation", sdk.GradeBad, "is revoked (OCSP)", ""},
		{"revoked-crl", "PKI", "Revocation", sdk.GradeBad, "the leaf is revoked (CRL)", ""},
		{"good-ocsp", "PKI", "Revocation", sdk.GradeGood, "", `{"source":"OCSP","status":"good"}`},
		// Off by default: the URLs in a certificate are not the scan target.
		{"revoked-ocsp", "PKI", "Revocation", sdk.GradeSkipped, "fetch_revocation = false", ""},
		{"staple-revoked", "PKI", "OCSPStapling", sdk.GradeBad, "says the leaf is revoked", ""},
		{"expired", "PKI", "OCSPStapling", sdk.GradeWarning, "no OCSP response stapled", ""},

		// Unreachable.
		{"closed", "Connectivity", "TCPDial", sdk.GradeBad, "connection refused", ""},
		{"closed", "Mozilla", "Intermediate", sdk.GradeBad, "connection refused", ""},
	}
	for _, c := range cases {
		sc := sc
		if strings.Contains(c.reason, " 5.7 ") {
			sc = sc57
		}
		if strings.Contains(c.reason, "fetch_revocation") {
			sc = noFetch
		}
		if c.reason == "grpc" {
			// Over gRPC: the finding and its output cross the wire intact.
			sc, c.reason = overGRPC, ""
		}
		t.Run(c.endpoint+"/"+c.family+"/"+c.check+"/"+string(c.grade), func(t *testing.T) {
			t.Parallel()
			f := run(t, sc, ep[c.endpoint], c.family, c.check)[0]
			if f.Grade != c.grade || !strings.Contains(f.Reason, c.reason) || !strings.Contains(string(f.Output), c.output) {
				t.Errorf("%s %s/%s: %s %q %s\nwant %s, reason containing %q, output containing %s",
					c.endpoint, c.family, c.check, f.Grade, f.Reason, f.Output, c.grade, c.reason, c.output)
			}
		})
	}
}

// A server that accepts connections and never answers: every check ends
// by the call's deadline with a finding, not an error or a hang.
func TestDeadlineBoundsEveryCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	sc := newInstance(t, `{"dial_timeout":"10s"}`)
	fams, _ := sc.Families(t.Context())
	for _, f := range fams {
		for _, c := range f.Checks {
			t.Run(f.Name+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
				defer cancel()
				start := time.Now()
				var got []sdk.Finding
				err := sc.Run(ctx, sdk.ScanRequest{Family: f.Name, Check: c.Name, Host: l.Addr().String()}, func(f *sdk.Finding) error {
					got = append(got, *f)
					return nil
				})
				if took := time.Since(start); err != nil || len(got) != 1 || took > 2*time.Second {
					t.Errorf("Run: %v, %d findings %+v, after %v; want one finding within the 300ms deadline", err, len(got), got, took)
				}
			})
		}
	}
}
