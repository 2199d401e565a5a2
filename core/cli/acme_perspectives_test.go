package cli

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/http01"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"
	"github.com/pkid/pkid/core/devmode"
	"github.com/pkid/pkid/internal/dnstest"
	"github.com/pkid/pkid/internal/testtool"
)

// mpicProfile is the profile the test adds to the dev issuing CA: the
// primary perspective and three remote `pkid validator` processes, two of
// which must agree with it.
const mpicProfile = `  profile "mpic" {
    usages = ["digital signature", "key encipherment", "server auth"]
    expiry = "720h"
    policy {
      allow_dns = ["*.mpic.test"]
    }
    acme {
      validation {
        quorum    = 2
        resolver  = "PRIMARYDNS"
        http_port = HTTPPORT
        timeout   = "5s"
        perspective "v1" {
          url  = "V1URL"
          ca   = "VCA"
          cert = "VCERT"
          key  = "VKEY"
        }
        perspective "v2" {
          url  = "V2URL"
          ca   = "VCA"
          cert = "VCERT"
          key  = "VKEY"
        }
        perspective "v3" {
          url  = "V3URL"
          ca   = "VCA"
          cert = "VCERT"
          key  = "VKEY"
        }
      }
    }
  }
`

// mpicUser is lego's view of an ACME account.
type mpicUser struct {
	key crypto.Signer
	reg *acme.ExtendedAccount
}

func (u *mpicUser) GetEmail() string                       { return "" }
func (u *mpicUser) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *mpicUser) GetPrivateKey() crypto.Signer           { return u.key }

// TestACMEPerspectiveProcesses is multi-perspective issuance corroboration
// end to end with real processes: a `pkid serve` daemon whose ACME profile
// asks three `pkid validator` processes (quorum 2), each with its own
// authoritative DNS server, and lego as the client answering http-01.
// The genuine site is reachable at 127.0.0.11 and 127.0.0.12; an impostor
// on 127.0.0.13 answers a wrong key authorization. One perspective sent
// to the impostor is outvoted; two refuse the order, and the problem lego
// gets names them and what they saw.
func TestACMEPerspectiveProcesses(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	dir := t.TempDir()
	clientTLS := validatorPKI(t, dir)
	vcert, vkey := writeClientPair(t, dir, clientTLS)

	const genuine1, genuine2, spoofed = "127.0.0.11", "127.0.0.12", "127.0.0.13"
	lns := listenSamePort(t, genuine1, genuine2, spoofed)
	_, httpPort, _ := net.SplitHostPort(lns[0].Addr().String())
	// lego's own challenge server binds genuine1 on this port when it
	// presents a challenge; genuine2 is the same site behind a proxy.
	lns[0].Close()
	site := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: net.JoinHostPort(genuine1, httpPort)})
	impostor := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.URL.Path, "/.well-known/acme-challenge/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, token+".spoofed-by-the-impostor")
	})
	for i, h := range []http.Handler{site, impostor} {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(lns[i+1])
		t.Cleanup(func() { srv.Close() })
	}

	primaryDNS := dnstest.Start(t)
	var dnss [3]*dnstest.Server
	replace := []string{"PRIMARYDNS", primaryDNS.Addr, "HTTPPORT", httpPort,
		"VCA", filepath.Join(dir, "ca.pem"), "VCERT", vcert, "VKEY", vkey}
	var logs []*logBuffer
	for i := range dnss {
		dnss[i] = dnstest.Start(t)
		name := fmt.Sprintf("v%d", i+1)
		u, _, log := startValidatorProc(t, "-listen", "127.0.0.1:0", "-name", name,
			"-tls-cert", filepath.Join(dir, "server.pem"), "-tls-key", filepath.Join(dir, "server-key.pem"),
			"-client-ca", filepath.Join(dir, "ca.pem"), "-resolver", dnss[i].Addr,
			"-http-port", httpPort, "-timeout", "5s")
		replace = append(replace, fmt.Sprintf("V%dURL", i+1), u)
		logs = append(logs, log)
	}
	// Every perspective sees the genuine site except v3, sent to the
	// impostor; the second case sends v2 there too.
	for _, name := range []string{"a.mpic.test", "b.mpic.test"} {
		primaryDNS.SetA(name, genuine1)
		dnss[0].SetA(name, genuine1)
		dnss[1].SetA(name, genuine2)
		dnss[2].SetA(name, spoofed)
	}
	dnss[1].SetA("b.mpic.test", spoofed)

	// The dev configuration with the mpic profile: `serve -dev` keeps an
	// existing file and bootstraps the dev CAs.
	state := filepath.Join(t.TempDir(), "state")
	cfgPath, err := devmode.Prepare(state, "127.0.0.1:0", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	profile := strings.NewReplacer(replace...).Replace(mpicProfile)
	edited := strings.Replace(string(body), `  profile "server" {`, profile+`  profile "server" {`, 1)
	if edited == string(body) {
		t.Fatal("the dev configuration has no server profile to insert the mpic profile before")
	}
	// An audit log: ACME issuances are recorded like the API's.
	auditLog := filepath.Join(dir, "audit.log")
	edited = strings.Replace(edited, "pkid {\n", "pkid {\n  audit_log = \""+auditLog+"\"\n", 1)
	if err := os.WriteFile(cfgPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	// ACME clients require HTTPS: the daemon serves with the validators'
	// server certificate (127.0.0.1, under ca.pem).
	d := startDaemon(t, "serve", "-dev", "-state", state, "-listen", "127.0.0.1:0",
		"-tls-cert", filepath.Join(dir, "server.pem"), "-tls-key", filepath.Join(dir, "server-key.pem"))
	directory := d.base + "/acme/issuing/mpic/directory"

	obtain := func(t *testing.T, name string) (*certificate.Resource, error) {
		t.Helper()
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		u := &mpicUser{key: key}
		cfg := lego.NewConfig(u)
		cfg.CADirURL = directory
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: clientTLS.RootCAs, MinVersion: tls.VersionTLS12}}}
		cfg.Certificate.Timeout = 20 * time.Second
		c, err := lego.NewClient(cfg)
		if err != nil {
			t.Fatalf("lego client: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if u.reg, err = c.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true}); err != nil {
			t.Fatalf("register: %v", err)
		}
		if err := c.Challenge.SetHTTP01Provider(http01.NewProviderServer(genuine1, httpPort)); err != nil {
			t.Fatal(err)
		}
		certKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		start := time.Now()
		res, err := c.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: []string{name}, Bundle: true, PrivateKey: certKey})
		if el := time.Since(start); el > 30*time.Second {
			t.Errorf("the order took %v", el)
		}
		return res, err
	}

	t.Run("one spoofed perspective is outvoted", func(t *testing.T) {
		res, err := obtain(t, "a.mpic.test")
		if err != nil {
			t.Fatalf("obtain with v3 spoofed: %v\ndaemon: %s", err, d.logText())
		}
		leaf := opensslVerifyChain(t, openssl, filepath.Join(state, "ca", "root.pem"), res.Certificate, "a.mpic.test")
		if got := strings.Join(leaf.DNSNames, ","); got != "a.mpic.test" {
			t.Errorf("certificate names %q", got)
		}
		// Each validator was asked and logged its own view: v1 and v2
		// agreed at the genuine addresses, v3 was refused by the impostor,
		// so the order passed by the vote, not by a perspective left out.
		for i, want := range []struct {
			ok   string
			addr string
		}{{"ok=true", genuine1}, {"ok=true", genuine2}, {"ok=false", spoofed}} {
			line := validationLine(logs[i].String(), "a.mpic.test")
			if !strings.Contains(line, want.ok) || !strings.Contains(line, want.addr) {
				t.Errorf("v%d logged %q, want %s at %s", i+1, line, want.ok, want.addr)
			}
		}
	})

	t.Run("two spoofed perspectives refuse", func(t *testing.T) {
		_, err := obtain(t, "b.mpic.test")
		if err == nil {
			t.Fatal("issued with v2 and v3 spoofed")
		}
		msg := err.Error()
		for _, want := range []string{"urn:ietf:params:acme:error:incorrectResponse",
			"1 of 3 remote perspectives agreed, quorum 2",
			"v2 (at " + spoofed + "): http://b.mpic.test:" + httpPort + "/.well-known/acme-challenge/",
			"v3 (at " + spoofed + "): http://b.mpic.test:" + httpPort + "/.well-known/acme-challenge/",
			".spoofed-by-the-impostor\", want the key authorization"} {
			if !strings.Contains(msg, want) {
				t.Errorf("lego's error lacks %q:\n%s", want, msg)
			}
		}
		if strings.Contains(msg, "v1 (") || strings.Contains(msg, genuine1) {
			t.Errorf("the agreeing perspective is named as disagreeing:\n%s", msg)
		}
	})

	// The audit log holds the ACME issuance, named as such, and not the
	// refused order; its chain verifies.
	if r := pkid(t, "audit", "verify", "-log", auditLog, "-key", auditLog+".key.pub"); r.code != 0 {
		t.Fatalf("pkid audit verify: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	records := mustRead(t, auditLog)
	var issued []string
	for _, line := range strings.Split(records, "\n") {
		if strings.Contains(line, `"kind":"issuance"`) && strings.Contains(line, "mpic.test") {
			issued = append(issued, line)
		}
	}
	if len(issued) != 1 || !strings.Contains(issued[0], `"a.mpic.test"`) || !strings.Contains(issued[0], `"endpoint":"acme-finalize"`) ||
		!strings.Contains(issued[0], `"client":"acme:`) || !strings.Contains(issued[0], `"profile":"mpic"`) {
		t.Fatalf("ACME issuance records in the audit log: %q", issued)
	}
}

// validationLine is the line of a validator's log about identifier.
func validationLine(log, identifier string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "validation:") && strings.Contains(l, "identifier="+identifier) {
			return l
		}
	}
	return ""
}

// writeClientPair writes the client certificate and key of a
// validatorPKI configuration (the daemon's perspective credentials) and
// returns the two files.
func writeClientPair(t *testing.T, dir string, c *tls.Config) (certFile, keyFile string) {
	t.Helper()
	kp := c.Certificates[0]
	kd, err := x509.MarshalPKCS8PrivateKey(kp.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// opensslVerifyChain checks the leaf of chainPEM with openssl verify
// against rootFile, the rest of the chain untrusted, for name, and
// returns the leaf.
func opensslVerifyChain(t *testing.T, openssl, rootFile string, chainPEM []byte, name string) *x509.Certificate {
	t.Helper()
	var leaf *x509.Certificate
	var rest []byte
	for data := chainPEM; ; {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if leaf == nil {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			leaf = c
			continue
		}
		rest = append(rest, pem.EncodeToMemory(b)...)
	}
	if leaf == nil || len(rest) == 0 {
		t.Fatalf("chain has no leaf or no issuer:\n%s", chainPEM)
	}
	dir := t.TempDir()
	leafFile, untrusted := filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "chain.pem")
	os.WriteFile(leafFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o600)
	os.WriteFile(untrusted, rest, 0o600)
	out, err := exec.Command(openssl, "verify", "-CAfile", rootFile, "-untrusted", untrusted,
		"-purpose", "sslserver", "-verify_hostname", name, leafFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
	return leaf
}
