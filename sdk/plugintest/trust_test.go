package plugintest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// trustMem is a tiny trust source: one root, one intermediate under it,
// and a platform that trusts the root.
type trustMem struct{ certs []sdk.TrustCert }

func (*trustMem) Close() error { return nil }

func (m *trustMem) Certificates(ctx context.Context, fn func(*sdk.TrustCert) error) error {
	for i := range m.certs {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := m.certs[i]
		if err := fn(&c); err != nil {
			return err
		}
	}
	return nil
}

func (m *trustMem) Platforms(context.Context) ([]sdk.Platform, error) {
	sum := sha1.Sum(m.certs[0].DER)
	return []sdk.Platform{{Name: "kit-os", Weight: 10, Roots: []string{hex.EncodeToString(sum[:])}}}, nil
}

// Watch reports no change ever, but closes its channel as documented.
func (m *trustMem) Watch(ctx context.Context) (<-chan struct{}, error) {
	ch := make(chan struct{})
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func kitCA(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestTrustKit(t *testing.T) {
	root, rootKey := kitCA(t, "kit root", nil, nil)
	inter, _ := kitCA(t, "kit intermediate", root, rootKey)
	newMem := func() sdk.Instance {
		return &trustMem{certs: []sdk.TrustCert{
			{DER: root.Raw, Root: true, Source: "kit"},
			{DER: inter.Raw, Source: "kit"},
		}}
	}
	t.Run("InProcess", func(t *testing.T) {
		TestTrust(t, func(*testing.T) sdk.Trust { return newMem().(sdk.Trust) })
	})
	t.Run("GRPC", func(t *testing.T) {
		var seen sdk.Config
		c := ServeGRPC(t, adapterPlugin{kinds: []string{sdk.KindTrust}, inst: newMem, seen: &seen})
		n := 0
		TestTrust(t, func(t *testing.T) sdk.Trust {
			n++
			name := fmt.Sprintf("kit%d", n)
			Configure(t, c, sdk.KindTrust, name, map[string]any{})
			return c.Trust(name)
		})
	})
}
