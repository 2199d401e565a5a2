package cli

import (
	"bytes"
	"crypto"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca/csr"
)

func TestGencsrFromCert(t *testing.T) {
	dir := t.TempDir()
	caFile, caKey, caCert := oldCA(t, dir)
	m := decodeResult(t, pkid(t, "gencert", "-ca", caFile, "-ca-key", caKey, writeFile(t, dir, "leaf.json", leafJSON)))
	leafFile := writeFile(t, dir, "leaf.pem", m["cert"])
	leaf, err := parseCertificatePEM([]byte(m["cert"]))
	if err != nil {
		t.Fatal(err)
	}
	// A new key for the same subject and names (re-keying).
	g := decodeResult(t, pkid(t, "genkey", writeFile(t, dir, "k.json", leafJSON)))
	newKey := writeFile(t, dir, "new-key.pem", g["key"])

	out := decodeResult(t, pkid(t, "gencsr", "-key", newKey, "-cert", leafFile))
	if len(out) != 2 || out["key"] != g["key"] {
		t.Fatalf("want {\"csr\",\"key\"} with the key as read, got %v", out)
	}
	r, err := csr.ParseCSR([]byte(out["csr"]))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := csr.ParsePrivateKey([]byte(g["key"]))
	if !bytes.Equal(r.RawSubject, leaf.RawSubject) || !publicKeyIs(r.PublicKey, k.Public()) ||
		strings.Join(r.DNSNames, ",") != "www.example.com" || len(r.IPAddresses) != 1 || !r.IPAddresses[0].Equal(leaf.IPAddresses[0]) {
		t.Errorf("request does not carry the certificate's subject and SANs with the new key: %v %v %v", r.Subject, r.DNSNames, r.IPAddresses)
	}
	for _, e := range r.Extensions {
		if e.Id.Equal(csr.OIDBasicConstraints) {
			t.Error("leaf request asks for CA")
		}
	}

	// -hostname replaces the SANs, -cn the common name.
	out = decodeResult(t, pkid(t, "gencsr", "-key", newKey, "-cert", leafFile, "-hostname", "a.example.com,10.0.0.1", "-cn", "renamed"))
	r, _ = csr.ParseCSR([]byte(out["csr"]))
	if r.Subject.CommonName != "renamed" || strings.Join(r.DNSNames, ",") != "a.example.com" || r.IPAddresses[0].String() != "10.0.0.1" {
		t.Errorf("-hostname/-cn not applied: %v %v %v", r.Subject, r.DNSNames, r.IPAddresses)
	}

	// A CA certificate gives a CA request with its path length.
	out = decodeResult(t, pkid(t, "gencsr", "-key", caKey, "-cert", caFile))
	r, _ = csr.ParseCSR([]byte(out["csr"]))
	info := pkid(t, "certinfo", "-csr", writeFile(t, dir, "ca.csr", out["csr"]))
	if !bytes.Equal(r.RawSubject, caCert.RawSubject) || !strings.Contains(info.stdout, `"name": "basicConstraints",
      "critical": true,
      "value": "MAYBAf8CAQE="`) {
		t.Errorf("CA request: %s", info.stdout)
	}
}

func publicKeyIs(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
