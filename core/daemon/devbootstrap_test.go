package daemon_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"testing"
	"time"

	"github.com/pkid/pkid/core/devmode"
)

// The dev root outlives the issuing CA it signs with room to spare: with
// equal lifetimes a minute ticking over between the two signatures made
// the intermediate outlast its root, which issuance refuses.
func TestDevRootOutlivesIssuingCA(t *testing.T) {
	loaded := devConfig(t, "")
	if err := devmode.Bootstrap(context.Background(), loaded, "http://127.0.0.1:1", io.Discard); err != nil {
		t.Fatal(err)
	}
	read := func(label string) *x509.Certificate {
		for _, c := range loaded.Config.CAs {
			if c.Name != label {
				continue
			}
			b, err := os.ReadFile(c.Certificate)
			if err != nil {
				t.Fatal(err)
			}
			blk, _ := pem.Decode(b)
			if blk == nil {
				t.Fatalf("%s: no PEM", c.Certificate)
			}
			cert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			return cert
		}
		t.Fatalf("no CA %q in the dev config", label)
		return nil
	}
	root, issuing := read(devmode.RootLabel), read(devmode.IssuingLabel)
	if margin := root.NotAfter.Sub(issuing.NotAfter); margin < 365*24*time.Hour {
		t.Fatalf("root expires %s, issuing CA %s: margin %s, want at least a year", root.NotAfter, issuing.NotAfter, margin)
	}
	if err := issuing.CheckSignatureFrom(root); err != nil {
		t.Fatal(err)
	}
}
