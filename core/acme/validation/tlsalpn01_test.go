package validation

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/dnstest"
)

// alpnCert is a tls-alpn-01 certificate; mutate changes the template.
func alpnCert(t *testing.T, keyAuth string, mutate func(*x509.Certificate)) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(keyAuth))
	val, _ := asn1.Marshal(sum[:])
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		Subject:         pkix.Name{CommonName: "acme"},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: OIDACMEIdentifier, Critical: true, Value: val}},
	}
	mutate(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestTLSALPN01(t *testing.T) {
	dnsSrv := dnstest.Start(t)
	names := func(c *x509.Certificate, dns ...string) { c.DNSNames = dns }
	certs := map[string]tls.Certificate{
		"ok.test":     alpnCert(t, testKeyAu, func(c *x509.Certificate) { names(c, "ok.test") }),
		"wrong.test":  alpnCert(t, testToken+".other", func(c *x509.Certificate) { names(c, "wrong.test") }),
		"twosan.test": alpnCert(t, testKeyAu, func(c *x509.Certificate) { names(c, "twosan.test", "x.test") }),
		"othersan.test": alpnCert(t, testKeyAu, func(c *x509.Certificate) {
			names(c, "x.test")
		}),
		"emailsan.test": alpnCert(t, testKeyAu, func(c *x509.Certificate) {
			names(c, "emailsan.test")
			c.EmailAddresses = []string{"a@emailsan.test"}
		}),
		"nosan.test": alpnCert(t, testKeyAu, func(c *x509.Certificate) {}),
		"noncritical.test": alpnCert(t, testKeyAu, func(c *x509.Certificate) {
			names(c, "noncritical.test")
			c.ExtraExtensions[0].Critical = false
		}),
		"noext.test": alpnCert(t, testKeyAu, func(c *x509.Certificate) {
			names(c, "noext.test")
			c.ExtraExtensions = nil
		}),
		"rawdigest.test": alpnCert(t, testKeyAu, func(c *x509.Certificate) {
			// The digest without its OCTET STRING wrapping.
			names(c, "rawdigest.test")
			sum := sha256.Sum256([]byte(testKeyAu))
			c.ExtraExtensions[0].Value = sum[:]
		}),
		"1.0.0.127.in-addr.arpa": alpnCert(t, testKeyAu, func(c *x509.Certificate) {
			c.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}),
	}
	var mu sync.Mutex
	var sawSNI []string
	cfg := &tls.Config{
		NextProtos: []string{ALPNProto},
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			mu.Lock()
			sawSNI = append(sawSNI, h.ServerName)
			mu.Unlock()
			if len(h.SupportedProtos) != 1 || h.SupportedProtos[0] != ALPNProto {
				t.Errorf("client offered ALPN %q", h.SupportedProtos)
			}
			c, ok := certs[h.ServerName]
			if !ok {
				c = certs["ok.test"]
			}
			return &c, nil
		},
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	defer srv.Close()
	tlsPort := port(t, ln.Addr().String())

	// A TLS server that refuses acme-tls/1, and one that ignores ALPN.
	plainTLS := httptest.NewUnstartedServer(http.NotFoundHandler())
	plainTLS.Config.ErrorLog = log.New(io.Discard, "", 0)
	plainTLS.StartTLS()
	defer plainTLS.Close()
	noALPNcfg := cfg.Clone()
	noALPNcfg.NextProtos = nil
	noALPN, err := tls.Listen("tcp", "127.0.0.1:0", noALPNcfg)
	if err != nil {
		t.Fatal(err)
	}
	noALPNSrv := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: log.New(io.Discard, "", 0)}
	go noALPNSrv.Serve(noALPN)
	defer noALPNSrv.Close()
	// A plain HTTP server on the TLS port.
	plainHTTP := httptest.NewServer(http.NotFoundHandler())
	defer plainHTTP.Close()
	// A server that accepts and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()

	for n := range certs {
		if !strings.HasSuffix(n, ".arpa") {
			dnsSrv.SetA(n, "127.0.0.1")
		}
	}
	req := func(name string) Request {
		r := httpReq(name)
		r.Type = TLSALPN01
		return r
	}
	ipReq := req("x")
	ipReq.Identifier = Identifier{Type: "ip", Value: "127.0.0.1"}
	tests := []struct {
		name    string
		req     Request
		port    int
		timeout time.Duration
		problem string
		detail  string
	}{
		{name: "ok", req: req("ok.test")},
		{name: "ip identifier", req: ipReq},
		{name: "wrong key authorization", req: req("wrong.test"), problem: ProblemIncorrectResponse, detail: "does not match"},
		{name: "two names", req: req("twosan.test"), problem: ProblemIncorrectResponse, detail: "exactly one subjectAltName, got 2"},
		{name: "an email name too", req: req("emailsan.test"), problem: ProblemIncorrectResponse, detail: "exactly one subjectAltName, got 2"},
		{name: "another name", req: req("othersan.test"), problem: ProblemIncorrectResponse, detail: "is not othersan.test"},
		{name: "no names", req: req("nosan.test"), problem: ProblemIncorrectResponse, detail: "subjectAltName"},
		{name: "extension not critical", req: req("noncritical.test"), problem: ProblemIncorrectResponse, detail: "not critical"},
		{name: "no extension", req: req("noext.test"), problem: ProblemIncorrectResponse, detail: "no id-pe-acmeIdentifier"},
		{name: "digest not DER", req: req("rawdigest.test"), problem: ProblemIncorrectResponse, detail: "OCTET STRING"},
		{name: "ALPN refused", req: req("ok.test"), port: port(t, plainTLS.URL), problem: ProblemTLS, detail: "no application protocol"},
		{name: "ALPN ignored", req: req("ok.test"), port: port(t, noALPN.Addr().String()), problem: ProblemTLS, detail: "did not negotiate"},
		{name: "not TLS", req: req("ok.test"), port: port(t, plainHTTP.URL), problem: ProblemTLS, detail: "handshake"},
		{name: "silent server", req: req("ok.test"), port: port(t, silent.Addr().String()), timeout: 300 * time.Millisecond, problem: ProblemConnection, detail: "timed out"},
		{name: "closed port", req: req("ok.test"), port: closedPort(t), problem: ProblemConnection, detail: "refused"},
		{name: "nxdomain", req: req("nowhere.test"), problem: ProblemDNS, detail: "NXDOMAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tlsPort
			if tt.port != 0 {
				p = tt.port
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 3 * time.Second
			}
			l := NewLocal(LocalOptions{Resolver: dnsSrv.Addr, TLSPort: p, Timeout: timeout})
			start := time.Now()
			v := l.Validate(context.Background(), tt.req)
			if time.Since(start) > timeout+time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if tt.problem == "" {
				if !v.OK {
					t.Fatalf("refused: %+v", v.Problem)
				}
				if strings.Join(v.Addresses, ",") != "127.0.0.1" {
					t.Errorf("addresses %q", v.Addresses)
				}
				return
			}
			if v.OK || v.Problem.Type != tt.problem || !strings.Contains(v.Problem.Detail, tt.detail) {
				t.Fatalf("problem %+v, want %s containing %q", v.Problem, tt.problem, tt.detail)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if !contains(sawSNI, "1.0.0.127.in-addr.arpa") || !contains(sawSNI, "ok.test") {
		t.Errorf("SNI seen: %q", sawSNI)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// FuzzCheckALPNCert: the subjectAltName and acmeIdentifier extensions
// come from the server being validated. Checking them never panics, and
// only the exact expected encoding is accepted.
func FuzzCheckALPNCert(f *testing.F) {
	sum := sha256.Sum256([]byte(testKeyAu))
	goodID, _ := asn1.Marshal(sum[:])
	goodSAN, _ := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("ok.test")}})
	f.Add(goodSAN, goodID, true)
	f.Add([]byte{0x30, 0x00}, goodID, true)
	f.Add(goodSAN, sum[:], false)
	f.Fuzz(func(t *testing.T, san, id []byte, critical bool) {
		cert := &x509.Certificate{Extensions: []pkix.Extension{
			{Id: oidSAN, Value: san},
			{Id: OIDACMEIdentifier, Critical: critical, Value: id},
		}}
		req := httpReq("ok.test")
		why := checkALPNCert(cert, req)
		if why == "" && (!critical || !bytes.Equal(id, goodID) || !bytes.Equal(san, goodSAN) && !equalFoldSAN(san)) {
			t.Fatalf("accepted san %x id %x critical %v", san, id, critical)
		}
	})
}

// equalFoldSAN reports whether san is one dNSName equal to ok.test in
// another letter case (accepted: DNS names are case-insensitive).
func equalFoldSAN(san []byte) bool {
	var names []asn1.RawValue
	rest, err := asn1.Unmarshal(san, &names)
	return err == nil && len(rest) == 0 && len(names) == 1 && names[0].Tag == 2 &&
		names[0].Class == asn1.ClassContextSpecific && strings.EqualFold(string(names[0].Bytes), "ok.test")
}
