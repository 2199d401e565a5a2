package daemon_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/devtest"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/devmode"
	"github.com/pkid/pkid/sdk"
	"golang.org/x/crypto/ocsp"
)

// devConfig writes dev mode's configuration into a temporary state
// directory with its plugins in process (no plugin binary needed) and
// pkidAttrs at the top of its pkid block (line 3), and loads it.
func devConfig(t *testing.T, pkidAttrs string) *catalog.Loaded {
	t.Helper()
	loaded, _, _ := devtest.Load(t, devtest.Options{Pkid: pkidAttrs})
	return loaded
}

// startDaemon builds a daemon on a free port, with dev mode's bootstrap,
// and runs it until the test ends. stop cancels Run; wait returns its
// error.
func startDaemon(t *testing.T, loaded *catalog.Loaded) (d *daemon.Daemon, stop func(), wait func() error) {
	t.Helper()
	d, err := daemon.New(context.Background(), loaded, daemon.Options{
		Listen: "127.0.0.1:0",
		Log:    hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Warn}),
		Bootstrap: func(ctx context.Context, base string) error {
			return devmode.Bootstrap(ctx, loaded, base, io.Discard)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var runErr error
	wait = func() error {
		once.Do(func() {
			select {
			case runErr = <-done:
			case <-time.After(60 * time.Second):
				runErr = errors.New("Run did not return")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		cancel()
		if err := wait(); err != nil {
			t.Errorf("Run: %v", err)
		}
		d.Close()
	})
	return d, cancel, wait
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type envelope struct {
	Success bool            `json:"success"`
	Result  json.RawMessage `json:"result"`
	Errors  []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

func post(t *testing.T, url string, body any) (int, envelope) {
	t.Helper()
	code, env, err := tryPost(url, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, env
}

func tryPost(url string, body any) (int, envelope, error) {
	b, _ := json.Marshal(body)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, envelope{}, fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	var env envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return 0, envelope{}, fmt.Errorf("POST %s: %d, not a JSON envelope: %w", url, resp.StatusCode, err)
	}
	return resp.StatusCode, env, nil
}

func signRequest(t *testing.T, cn string) map[string]string {
	t.Helper()
	req := &csr.Request{CN: cn, Hosts: []string{cn}}
	key, err := req.KeyRequest.Generate()
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, err := csr.Generate(req, key)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"certificate_request": string(csrPEM), "profile": "server"}
}

func parseSigned(t *testing.T, env envelope) *x509.Certificate {
	t.Helper()
	var res struct{ Certificate string }
	if err := json.Unmarshal(env.Result, &res); err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(res.Certificate))
	if b == nil {
		t.Fatalf("no certificate in %s", env.Result)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v: %s", url, resp.StatusCode, err, b)
	}
	return b
}

func ocspStatus(t *testing.T, url string, leaf, issuer *x509.Certificate) *ocsp.Response {
	t.Helper()
	der, err := ocsp.CreateRequest(leaf, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Post(url, "application/ocsp-request", bytes.NewReader(der))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r, err := ocsp.ParseResponseForCert(body, leaf, issuer)
	if err != nil {
		t.Fatalf("OCSP from %s: %v", url, err)
	}
	return r
}

// A daemon built and run without the CLI issues through the API, and
// publishes the certificate's status at the URLs it put in it: OCSP and
// the CRL, before and after a revocation through the API.
func TestDaemonSignsAndPublishes(t *testing.T) {
	d, _, _ := startDaemon(t, devConfig(t, ""))
	if !strings.HasPrefix(d.URL(), "http://127.0.0.1:") || d.URL() == "http://127.0.0.1:0" {
		t.Fatalf("URL %q: want the listener's address", d.URL())
	}
	code, env := post(t, d.URL()+"/api/v1/cfssl/sign", signRequest(t, "svc.example.com"))
	if code != http.StatusOK || !env.Success {
		t.Fatalf("sign: %d %+v", code, env)
	}
	leaf := parseSigned(t, env)
	issuer := d.Set().CAs[devmode.IssuingLabel].Certificate()
	if err := leaf.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("not signed by the issuing CA: %v", err)
	}
	if len(leaf.OCSPServer) != 1 || !strings.HasPrefix(leaf.OCSPServer[0], d.URL()+"/") ||
		len(leaf.CRLDistributionPoints) != 1 || !strings.HasPrefix(leaf.CRLDistributionPoints[0], d.URL()+"/") {
		t.Fatalf("the certificate does not point at the daemon %s: OCSP %v, CRL %v", d.URL(), leaf.OCSPServer, leaf.CRLDistributionPoints)
	}

	if r := ocspStatus(t, leaf.OCSPServer[0], leaf, issuer); r.Status != ocsp.Good {
		t.Errorf("OCSP before revocation: status %d, want good", r.Status)
	}
	crl, err := x509.ParseRevocationList(get(t, leaf.CRLDistributionPoints[0]))
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil || len(crl.RevokedCertificateEntries) != 0 {
		t.Fatalf("CRL before revocation: signature %v, %d entries", err, len(crl.RevokedCertificateEntries))
	}
	if ca := get(t, d.URL()+config.DefaultCAPath+"/"+devmode.IssuingLabel+".crt"); !bytes.Equal(ca, issuer.Raw) {
		t.Errorf("%s/%s.crt is not the issuing CA certificate", config.DefaultCAPath, devmode.IssuingLabel)
	}

	code, env = post(t, d.URL()+"/api/v1/cfssl/revoke", map[string]string{"serial": leaf.SerialNumber.String(),
		"authority_key_id": hex.EncodeToString(leaf.AuthorityKeyId), "reason": "keyCompromise"})
	if code != http.StatusOK || !env.Success {
		t.Fatalf("revoke: %d %+v", code, env)
	}
	if r := ocspStatus(t, leaf.OCSPServer[0], leaf, issuer); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise {
		t.Errorf("OCSP after revocation: status %d reason %d, want revoked, keyCompromise", r.Status, r.RevocationReason)
	}
	// The CRL request waits for the on-revoke regeneration.
	crl, err = x509.ParseRevocationList(get(t, leaf.CRLDistributionPoints[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("CRL after revocation lists %d entries, want the revoked serial", len(crl.RevokedCertificateEntries))
	}
}

// holdStore holds the first Put after hold() until release(): a request
// in flight for as long as the test wants.
type holdStore struct {
	sdk.CertStore
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (s *holdStore) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.entered, s.release = true, make(chan struct{}), make(chan struct{})
}

func (s *holdStore) Put(ctx context.Context, rec *sdk.CertRecord) error {
	s.mu.Lock()
	armed, entered, release := s.armed, s.entered, s.release
	s.armed = false
	s.mu.Unlock()
	if armed {
		close(entered)
		<-release
	}
	return s.CertStore.Put(ctx, rec)
}

// Cancelling Run's context refuses new connections but lets a request in
// flight finish with its certificate; Run then returns nil.
func TestDaemonGracefulShutdown(t *testing.T) {
	loaded := devConfig(t, "")
	store := &holdStore{CertStore: loaded.CertStores["main"]}
	loaded.CertStores["main"] = store
	d, stop, wait := startDaemon(t, loaded)

	store.hold()
	type result struct {
		code int
		env  envelope
		err  error
	}
	inflight := make(chan result, 1)
	req := signRequest(t, "inflight.example.com")
	go func() {
		code, env, err := tryPost(d.URL()+"/api/v1/cfssl/sign", req)
		inflight <- result{code, env, err}
	}()
	select {
	case <-store.entered:
	case <-time.After(60 * time.Second):
		t.Fatal("the sign request never reached the store")
	}
	stop()
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the daemon still accepts connections after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-inflight:
		t.Fatal("the in-flight request ended before its store write was released")
	default:
	}
	close(store.release)
	r := <-inflight
	if r.err != nil || r.code != http.StatusOK || !r.env.Success {
		t.Fatalf("in-flight sign across shutdown: %v %d %+v", r.err, r.code, r.env)
	}
	if leaf := parseSigned(t, r.env); leaf.Subject.CommonName != "inflight.example.com" {
		t.Errorf("in-flight sign returned %q", leaf.Subject.CommonName)
	}
	if err := wait(); err != nil {
		t.Errorf("Run after a graceful shutdown: %v", err)
	}
}

// Configuration problems found while building come back with the source
// range of what is wrong, for the CLI to print as file:line:col; other
// failures are plain errors.
func TestDaemonConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, pkidAttrs string
		diag            bool   // a *DiagnosticsError at line 3, column 3
		want            string // in the error
	}{
		{"ocspsign without authentication", "  enable_endpoints = [\"gencrl\", \"ocspsign\"]\n", true, "ocspsign enabled without authentication"},
		{"missing TLS certificate", "  tls {\n    cert = \"/nonexistent/cert.pem\"\n    key = \"/nonexistent/key.pem\"\n  }\n", false, "TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loaded := devConfig(t, tc.pkidAttrs)
			d, err := daemon.New(context.Background(), loaded, daemon.Options{Listen: "127.0.0.1:0",
				Bootstrap: func(ctx context.Context, base string) error { return devmode.Bootstrap(ctx, loaded, base, io.Discard) }})
			if err == nil {
				d.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			var de *daemon.DiagnosticsError
			if got := errors.As(err, &de); got != tc.diag {
				t.Fatalf("error %v: diagnostics %v, want %v", err, got, tc.diag)
			}
			if !tc.diag {
				return
			}
			if len(de.Diags) != 1 || de.Diags[0].Subject == nil {
				t.Fatalf("diagnostics without a range: %v", de.Diags)
			}
			if rng := de.Diags[0].Subject; filepath.Base(rng.Filename) != devmode.ConfigName || rng.Start.Line != 3 || rng.Start.Column != 3 {
				t.Errorf("diagnostic at %s, want %s:3:3", rng, devmode.ConfigName)
			}
		})
	}
}
