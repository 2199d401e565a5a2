package aia_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/aia"
	"github.com/pkid/pkid/core/egress"
	"github.com/pkid/pkid/internal/testtool"
)

func newCA(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x1234), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemOf(cs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

// pkcs7 makes a certs-only PKCS#7 bag with openssl, an independent encoder.
func pkcs7(t *testing.T, der bool, cs ...*x509.Certificate) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		testtool.Missing(t, "openssl", err)
	}
	in := filepath.Join(t.TempDir(), "in.pem")
	os.WriteFile(in, pemOf(cs...), 0o644)
	form := "PEM"
	if der {
		form = "DER"
	}
	out, err := exec.Command("openssl", "crl2pkcs7", "-nocrl", "-certfile", in, "-outform", form).Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// serve starts a loopback server with handler h and a fetcher allowed to
// reach it only.
func serve(t *testing.T, h http.HandlerFunc) (*httptest.Server, *aia.Fetcher) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p, err := egress.New([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return srv, &aia.Fetcher{Policy: p, Timeout: 2 * time.Second, MaxBytes: 64 << 10}
}

func TestFetchFormats(t *testing.T) {
	a, b := newCA(t, "Issuing CA A"), newCA(t, "Issuing CA B")
	bodies := map[string][]byte{
		"/der":       a.Raw,
		"/pem":       pemOf(a, b),
		"/p7c":       pkcs7(t, true, a, b),
		"/p7pem":     pkcs7(t, false, a),
		"/redirect":  nil,
		"/redirect2": nil,
	}
	want := map[string]int{"/der": 1, "/pem": 2, "/p7c": 2, "/p7pem": 1, "/redirect": 1}
	srv, f := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/der", http.StatusFound)
			return
		}
		w.Write(bodies[r.URL.Path])
	})
	for path, n := range want {
		certs, err := f.Fetch(t.Context(), srv.URL+path)
		if err != nil || len(certs) != n || !bytes.Equal(certs[0].Raw, a.Raw) {
			t.Errorf("Fetch(%s) = %d certs, %v; want %d starting with A", path, len(certs), err, n)
		}
	}
}

func TestFetchHostile(t *testing.T) {
	ca := newCA(t, "CA")
	slowDone := make(chan struct{})
	t.Cleanup(func() { close(slowDone) })
	srv, f := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			w.Write(ca.Raw[:10])
			w.(http.Flusher).Flush()
			select { // dribbles until the client gives up
			case <-r.Context().Done():
			case <-slowDone:
			}
		case "/huge":
			chunk := bytes.Repeat([]byte{'A'}, 32<<10)
			for range 320 { // 10 MiB, no Content-Length
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/huge-declared":
			w.Header().Set("Content-Length", "10000000")
			w.Write(ca.Raw)
		case "/denied-redirect":
			// Another loopback address: allowed would be 127.0.0.1 only.
			http.Redirect(w, r, "http://127.0.0.2/latest/", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/ldap":
			http.Redirect(w, r, "ldap://127.0.0.1/cn=x", http.StatusFound)
		case "/text":
			w.Write([]byte("<html>not a certificate</html>"))
		case "/key":
			w.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}))
		case "/many":
			var b []byte
			for range 17 {
				b = append(b, pemOf(ca)...)
			}
			w.Write(b)
		default:
			http.NotFound(w, r)
		}
	})
	f.Timeout = 300 * time.Millisecond
	tests := []struct {
		path string
		is   error
		text string
	}{
		{"/slow", context.DeadlineExceeded, ""},
		{"/huge", aia.ErrTooLarge, ""},
		{"/huge-declared", aia.ErrTooLarge, ""},
		{"/denied-redirect", egress.ErrDenied, "127.0.0.2"},
		{"/loop", nil, "redirects"},
		{"/ldap", nil, "ldap"},
		{"/text", nil, "neither a DER certificate"},
		{"/key", nil, `"PRIVATE KEY"`},
		{"/many", nil, "more than 16"},
		{"/missing", nil, "HTTP 404"},
	}
	for _, tt := range tests {
		start := time.Now()
		certs, err := f.Fetch(t.Context(), srv.URL+tt.path)
		if err == nil || certs != nil {
			t.Errorf("Fetch(%s) = %d certs, %v; want an error", tt.path, len(certs), err)
			continue
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("Fetch(%s): %v, want %v", tt.path, err, tt.is)
		}
		if tt.text != "" && !strings.Contains(err.Error(), tt.text) {
			t.Errorf("Fetch(%s): %q does not mention %q", tt.path, err, tt.text)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Fetch(%s) took %v", tt.path, d)
		}
	}

	for _, u := range []string{"ldap://127.0.0.1/x", "file:///etc/passwd", "ftp://127.0.0.1/x", "::"} {
		if _, err := f.Fetch(t.Context(), u); err == nil {
			t.Errorf("Fetch(%q) succeeded", u)
		}
	}
	// A policy that does not list the server's address refuses before connecting.
	for _, p := range []*egress.Policy{nil, mustPolicy(t, "10.0.0.0/8")} {
		g := &aia.Fetcher{Policy: p}
		if _, err := g.Fetch(t.Context(), srv.URL+"/pem"); !errors.Is(err, egress.ErrDenied) {
			t.Errorf("Fetch through %v: %v, want ErrDenied", p, err)
		}
	}
}

func mustPolicy(t *testing.T, allow ...string) *egress.Policy {
	p, err := egress.New(allow)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func FuzzParseCerts(f *testing.F) {
	ca := newCA(f, "fuzz")
	f.Add(ca.Raw)
	f.Add(pemOf(ca))
	f.Add([]byte("-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n"))
	f.Add([]byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := aia.ParseCerts(b)
		if err == nil && (len(certs) == 0 || len(certs) > 16) {
			t.Fatalf("%d certificates without an error", len(certs))
		}
	})
}
