package acme_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	legolog "github.com/go-acme/lego/v5/log"
	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/acme"
	"github.com/pkid/pkid/core/acme/validation"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/devmode"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/internal/dnstest"
	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
)

// harness is a daemon serving ACME on loopback with a DNS server of the
// test's own as the validators' resolver.
type harness struct {
	URL      string // https://127.0.0.1:PORT
	DNS      *dnstest.Server
	HTTPPort int // where validation looks for http-01
	TLSPort  int // and tls-alpn-01
	Pool     *x509.CertPool
	Dir      string
	RootFile string // the dev root CA
	IssFile  string // the dev issuing CA
	Docs     sdk.DocStore
	D        *daemon.Daemon
	stop     func()
}

// Directory returns the directory URL of a profile of the issuing CA.
func (h *harness) Directory(profile string) string {
	return h.URL + "/acme/issuing/" + profile + "/directory"
}

// Client is an HTTP client trusting the daemon.
func (h *harness) Client() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.Pool}}}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) { return testtool.FreePort() }

// acmeProfiles are the ACME profiles of the test daemon: "web" (open),
// "eab" (external account binding required) and "limited" (one order
// per name and window).
const acmeProfiles = `
  profile "web" {
    usages = ["digital signature", "key encipherment", "server auth"]
    expiry = "720h"
    policy {
      allow_dns       = ["*.acme.test", "acme.test"]
      allow_wildcards = true
    }
    acme {
      caa_identities   = ["pkid.test"]
      alternate_chains = ["ALTCHAIN"]
      validation {
        resolver  = "DNS"
        http_port = HTTPPORT
        tls_port  = TLSPORT
        timeout   = "5s"
      }
    }
  }
  profile "eab" {
    usages = ["digital signature", "key encipherment", "server auth"]
    expiry = "720h"
    acme {
      eab_required = true
      validation {
        resolver  = "DNS"
        http_port = HTTPPORT
        tls_port  = TLSPORT
        timeout   = "5s"
      }
    }
  }
  profile "multi1" {
    usages = ["digital signature", "key encipherment", "server auth"]
    expiry = "720h"
    acme {
      validation {
        quorum    = 1
        resolver  = "DNS"
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
      }
    }
  }
  profile "multi2" {
    usages = ["digital signature", "key encipherment", "server auth"]
    expiry = "720h"
    acme {
      validation {
        quorum    = 2
        resolver  = "DNS"
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
      }
    }
  }
  profile "limited" {
    usages = ["digital signature", "key encipherment", "server auth"]
    expiry = "720h"
    acme {
      rate_limits {
        orders_per_account = 4
        orders_per_name    = 1
        window             = "1h"
      }
      validation {
        resolver  = "DNS"
        http_port = HTTPPORT
        tls_port  = TLSPORT
      }
    }
  }
`

// harnessOpts tune startHarness.
type harnessOpts struct {
	// Docs holds the ACME state; nil: the CA's certstore.
	Docs sdk.DocStore
	// Certstore replaces the dev SQLite certstore block.
	Certstore string
	// PublicURL is the pkid block's public_url (nodes behind one name).
	PublicURL string
	// Validators replaces V1URL, V2URL, VCA, VCERT and VKEY.
	Validators []string
	// Reuse starts another node on dir's existing configuration and
	// state (same CA keys and store).
	Reuse bool
}

// startHarness starts a dev daemon with the ACME profiles in dir.
func startHarness(dir string, dnsSrv *dnstest.Server, httpPort, tlsPort int, o harnessOpts) (*harness, error) {
	h := &harness{DNS: dnsSrv, HTTPPort: httpPort, TLSPort: tlsPort, Dir: dir, Docs: o.Docs}
	certFile, keyFile := filepath.Join(dir, "tls.pem"), filepath.Join(dir, "tls-key.pem")
	var err error
	var pool *x509.CertPool
	if o.Reuse {
		pem, err := os.ReadFile(certFile)
		if err != nil {
			return nil, err
		}
		pool = x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
	} else if certFile, keyFile, pool, err = serverCert(dir); err != nil {
		return nil, err
	}
	h.Pool = pool
	path, err := devmode.Prepare(dir, "127.0.0.1:0", io.Discard)
	if err != nil {
		return nil, err
	}
	if !o.Reuse {
		body, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		profiles := strings.NewReplacer(append(o.Validators, "ALTCHAIN", filepath.Join(dir, "alt-chain.pem"), "DNS", dnsSrv.Addr, "HTTPPORT", fmt.Sprint(httpPort), "TLSPORT", fmt.Sprint(tlsPort))...).Replace(acmeProfiles)
		pairs := []string{
			`keystore "file" "dev" {`, "keystore \"file\" \"dev\" {\n  isolation = \"inprocess\"\n  kdf_work_factor = 10",
			`trust "files" "dev" {`, "trust \"files\" \"dev\" {\n  isolation = \"inprocess\"",
			`  profile "server" {`, profiles + `  profile "server" {`,
		}
		if o.Certstore != "" {
			pairs = append(pairs, "certstore \"sqlite\" \"main\" {\n  path = \""+filepath.Join(dir, "pkid.db")+"\"\n}", o.Certstore)
		} else {
			pairs = append(pairs, `certstore "sqlite" "main" {`, "certstore \"sqlite\" \"main\" {\n  isolation = \"inprocess\"")
		}
		if o.PublicURL != "" {
			pairs = append(pairs, "\npkid {\n", fmt.Sprintf("\npkid {\n  public_url = %q\n", o.PublicURL))
		}
		s := strings.NewReplacer(pairs...).Replace(string(body))
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			return nil, err
		}
	}
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		return nil, diags
	}
	host := pluginhost.New(pluginhost.Options{Logger: hclog.NewNullLogger()})
	loaded, diags := catalog.Load(context.Background(), catalog.LoadRequest{Config: cfg, Host: host})
	if diags.HasErrors() {
		host.Close()
		return nil, diags
	}
	d, err := daemon.New(context.Background(), loaded, daemon.Options{
		Listen:   "127.0.0.1:0",
		TLS:      daemon.TLS{Cert: certFile, Key: keyFile},
		Log:      hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Error}),
		ACMEDocs: h.Docs,
		Bootstrap: func(ctx context.Context, base string) error {
			if o.PublicURL != "" {
				base = o.PublicURL
			}
			if err := devmode.Bootstrap(ctx, loaded, base, io.Discard); err != nil {
				return err
			}
			if o.Reuse {
				return nil
			}
			return crossSign(dir)
		},
	})
	if err != nil {
		host.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	h.D = d
	h.URL = "https://" + d.Addr().String()
	if o.PublicURL != "" {
		h.URL = o.PublicURL
	}
	h.RootFile = filepath.Join(dir, "ca", "root.pem")
	h.IssFile = filepath.Join(dir, "ca", "issuing.pem")
	h.stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
		d.Close()
		host.Close()
	}
	if h.Docs == nil {
		// The ACME state in the CA's certstore, as in production.
		if h.Docs, err = acme.DocStoreOf(d.Set().CAs["issuing"].Store()); err != nil {
			h.stop()
			return nil, err
		}
	}
	return h, nil
}

// crossSign writes alt-chain.pem (the issuing CA cross-signed by another
// root, then that root) and alt-root.pem: an alternate chain.
func crossSign(dir string) error {
	iss, err := os.ReadFile(filepath.Join(dir, "ca", "issuing.pem"))
	if err != nil {
		return err
	}
	b, _ := pem.Decode(iss)
	issCert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return err
	}
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "alt root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return err
	}
	root, _ := x509.ParseCertificate(rootDER)
	cross := &x509.Certificate{SerialNumber: big.NewInt(8), Subject: issCert.Subject, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(47 * time.Hour),
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: issCert.SubjectKeyId}
	crossDER, err := x509.CreateCertificate(rand.Reader, cross, root, issCert.PublicKey, rootKey)
	if err != nil {
		return err
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: crossDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})...)
	if err := os.WriteFile(filepath.Join(dir, "alt-chain.pem"), chain, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "alt-root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o600)
}

// serverCert writes a self-signed serving certificate for 127.0.0.1.
func serverCert(dir string) (certFile, keyFile string, pool *x509.CertPool, err error) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acme test daemon"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return "", "", nil, err
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "tls.pem"), filepath.Join(dir, "tls-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		return "", "", nil, err
	}
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool, nil
}

// validators are two remote perspectives (pkid validator's handler over
// mutual TLS), each with its own DNS server: v1 sees what the primary
// sees, v2 is served other addresses when a test spoofs it.
type validators struct {
	dns     [2]*dnstest.Server
	srv     [2]*httptest.Server
	replace []string
}

func (v *validators) close() {
	for i := range 2 {
		v.srv[i].Close()
		v.dns[i].Close()
	}
}

// shared validators (TestMain).
var sharedVals *validators

func startValidators(dir string, httpPort int) (*validators, error) {
	v := &validators{}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "validators CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	issue := func(serial int64, cn string, eku x509.ExtKeyUsage) (tls.Certificate, []byte, []byte, error) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{eku}, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, k.Public(), caKey)
		if err != nil {
			return tls.Certificate{}, nil, nil, err
		}
		kd, _ := x509.MarshalPKCS8PrivateKey(k)
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
		kp, err := tls.X509KeyPair(certPEM, keyPEM)
		return kp, certPEM, keyPEM, err
	}
	serverKP, _, _, err := issue(2, "validator", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	_, clientPEM, clientKey, err := issue(3, "daemon", x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"validators-ca.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), "daemon.pem": clientPEM, "daemon-key.pem": clientKey}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	for i := range 2 {
		if v.dns[i], err = dnstest.Listen("127.0.0.1"); err != nil {
			return nil, err
		}
		local := validation.NewLocal(validation.LocalOptions{Name: fmt.Sprintf("v%d", i+1), Resolver: v.dns[i].Addr, HTTPPort: httpPort, Timeout: 5 * time.Second})
		v.srv[i] = httptest.NewUnstartedServer(validation.NewHandler(local))
		v.srv[i].TLS = &tls.Config{Certificates: []tls.Certificate{serverKP}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
		v.srv[i].StartTLS()
	}
	v.replace = []string{"V1URL", v.srv[0].URL, "V2URL", v.srv[1].URL, "VCA", filepath.Join(dir, "validators-ca.pem"),
		"VCERT", filepath.Join(dir, "daemon.pem"), "VKEY", filepath.Join(dir, "daemon-key.pem")}
	sharedVals = v
	return v, nil
}

// shared is the package's daemon (TestMain).
var shared *harness

func TestMain(m *testing.M) {
	flag.Parse()
	// lego logs every step to stdout, between benchmark results too.
	legolog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run()) // fuzzing the parser needs no daemon
	}
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	code := func() int {
		dir, err := os.MkdirTemp("", "pkid-acme-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		dnsSrv, err := dnstest.Listen("127.0.0.1")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer dnsSrv.Close()
		hp, err1 := freePort()
		tp, err2 := freePort()
		if err1 != nil || err2 != nil {
			fmt.Fprintln(os.Stderr, err1, err2)
			return 1
		}
		vals, err := startValidators(dir, hp)
		if err != nil {
			fmt.Fprintln(os.Stderr, "validators:", err)
			return 1
		}
		defer vals.close()
		shared, err = startHarness(dir, dnsSrv, hp, tp, harnessOpts{Validators: vals.replace})
		if err != nil {
			fmt.Fprintln(os.Stderr, "acme harness:", err)
			return 1
		}
		defer shared.stop()
		return m.Run()
	}()
	os.Exit(code)
}
