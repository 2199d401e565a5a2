package daemon_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/devmode"
	"golang.org/x/crypto/ocsp"
)

// The standalone responder (pkid ocspserve) answers under its path from
// the certstore, signing what is not pre-signed only when live, and stops
// cleanly when its context ends.
func TestResponder(t *testing.T) {
	loaded := devConfig(t, "")
	ctx := context.Background()
	if err := devmode.Bootstrap(ctx, loaded, "http://127.0.0.1:1", io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := daemon.NewResponder(daemon.ResponderOptions{Listen: "127.0.0.1:0", Path: "ocsp"}); err == nil {
		t.Error("a path without a leading / was accepted")
	}
	for _, tc := range []struct {
		name string
		live bool
		want error // nil: a response signed by the CA
	}{
		{"live", true, nil},
		{"pre-signed only", false, ocsp.ResponseError{Status: ocsp.Unauthorized}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := daemon.StoreSource(ctx, loaded, tc.live, nil)
			if err != nil {
				t.Fatal(err)
			}
			r, err := daemon.NewResponder(daemon.ResponderOptions{Listen: "127.0.0.1:0", Path: "/ocsp", Source: src})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- r.Run(runCtx) }()

			issuer, err := devmodeIssuer(loaded)
			if err != nil {
				t.Fatal(err)
			}
			leaf := &x509.Certificate{SerialNumber: big.NewInt(12345)}
			der, err := ocsp.CreateRequest(leaf, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
			if err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Timeout: 30 * time.Second}
			resp, err := client.Post(r.URL(), "application/ocsp-request", bytes.NewReader(der))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_, err = ocsp.ParseResponseForCert(body, leaf, issuer)
			if !errors.Is(err, tc.want) {
				t.Errorf("OCSP at %s: %v, want %v", r.URL(), err, tc.want)
			}
			resp, err = client.Post(r.URL()[:len(r.URL())-len("ocsp/")]+"other", "application/ocsp-request", bytes.NewReader(der))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("outside the path: %d, want 404", resp.StatusCode)
			}
			stop()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

// devmodeIssuer reads dev mode's issuing CA certificate.
func devmodeIssuer(l *catalog.Loaded) (*x509.Certificate, error) {
	for _, c := range l.Config.CAs {
		if c.Name == devmode.IssuingLabel {
			certs, err := authority.ReadCertificates(c.Certificate)
			if err != nil {
				return nil, err
			}
			return certs[0], nil
		}
	}
	return nil, errors.New("no issuing CA")
}
