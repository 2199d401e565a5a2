package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
)

// oldCA makes a CA whose validity started two hours ago, so a renewal now
// ends later.
func oldCA(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	req, err := csr.Parse([]byte(caJSON))
	if err != nil {
		t.Fatal(err)
	}
	req.CRL = "http://crl.example.com/root.crl"
	key, err := req.KeyRequest.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := ca.InitCA(context.Background(), ca.InitCARequest{Request: req, Signer: key,
		Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "old.pem", string(c.PEM())), writeFile(t, dir, "old-key.pem", keyPEM), c.Cert
}

func TestGencertRenewCA(t *testing.T) {
	openssl := opensslPath(t)
	dir := t.TempDir()
	oldFile, keyFile, old := oldCA(t, dir)

	// A leaf signed by the old CA certificate before the renewal.
	m := decodeResult(t, pkid(t, "gencert", "-ca", oldFile, "-ca-key", keyFile, writeFile(t, dir, "leaf.json", leafJSON)))
	leafFile := writeFile(t, dir, "leaf.pem", m["cert"])

	m = decodeResult(t, pkid(t, "gencert", "-renewca", "-ca", oldFile, "-ca-key", keyFile))
	if len(m) != 1 || m["cert"] == "" {
		t.Fatalf("want {\"cert\"}, got keys %v", m)
	}
	renewed, err := parseCertificatePEM([]byte(m["cert"]))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case !bytes.Equal(renewed.RawSubject, old.RawSubject) || !bytes.Equal(renewed.RawIssuer, old.RawSubject):
		t.Error("subject or issuer changed")
	case !bytes.Equal(renewed.SubjectKeyId, old.SubjectKeyId):
		t.Error("subject key identifier changed")
	case !bytes.Equal(renewed.RawSubjectPublicKeyInfo, old.RawSubjectPublicKeyInfo):
		t.Error("public key changed")
	case renewed.SerialNumber.Cmp(old.SerialNumber) == 0:
		t.Error("serial number reused")
	case !renewed.NotAfter.After(old.NotAfter):
		t.Errorf("NotAfter %v not after %v", renewed.NotAfter, old.NotAfter)
	case renewed.NotAfter.Sub(renewed.NotBefore) != old.NotAfter.Sub(old.NotBefore):
		t.Error("validity length changed")
	case time.Since(renewed.NotBefore) > 7*time.Minute || time.Since(renewed.NotBefore) < 4*time.Minute:
		t.Errorf("NotBefore %v is not now minus the backdate", renewed.NotBefore)
	case renewed.MaxPathLen != old.MaxPathLen || !renewed.IsCA || renewed.KeyUsage != old.KeyUsage:
		t.Error("constraints changed")
	}
	if len(renewed.Extensions) != len(old.Extensions) {
		t.Fatalf("extensions: %d, was %d", len(renewed.Extensions), len(old.Extensions))
	}
	for i, e := range old.Extensions {
		if r := renewed.Extensions[i]; !r.Id.Equal(e.Id) || r.Critical != e.Critical || !bytes.Equal(r.Value, e.Value) {
			t.Errorf("extension %d (%s) changed", i, e.Id)
		}
	}

	// The leaf issued under the old certificate verifies with the new one.
	newFile := writeFile(t, dir, "new.pem", m["cert"])
	out, err := exec.Command(openssl, "verify", "-x509_strict", "-CAfile", newFile, leafFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("openssl verify with the renewed CA: %v %s", err, out)
	}
}

func TestGencertRenewCAErrors(t *testing.T) {
	dir := t.TempDir()
	caFile, keyFile, _ := oldCA(t, dir)
	other := decodeResult(t, pkid(t, "genkey", writeFile(t, dir, "k.json", leafJSON)))
	otherKey := writeFile(t, dir, "other-key.pem", other["key"])
	m := decodeResult(t, pkid(t, "gencert", "-ca", caFile, "-ca-key", keyFile, writeFile(t, dir, "leaf.json", leafJSON)))
	leaf := writeFile(t, dir, "leaf.pem", m["cert"])
	leafKey := writeFile(t, dir, "leaf-key.pem", m["key"])
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"gencert", "-renewca", "-ca", caFile}, "-ca-key"},
		{[]string{"gencert", "-renewca", "-ca", caFile, "-ca-key", otherKey}, "does not match"},
		{[]string{"gencert", "-renewca", "-ca", leaf, "-ca-key", leafKey}, "not a CA"},
	} {
		r := pkid(t, tc.args...)
		if r.code == 0 || r.stdout != "" || !strings.Contains(strings.SplitN(r.stderr, "\n", 2)[0], tc.want) {
			t.Errorf("%v: want failure naming %q, got %+v", tc.args, tc.want, r)
		}
	}
}
