package acme

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"testing"
)

// TestCheckCSRNameTypes: a CSR name counts for an identifier of its own
// type only: an IP address written as a dNSName does not match an ip
// identifier (the certificate would carry a DNS name nobody validated as
// one), and a common name must be one of the order's names.
func TestCheckCSRNameTypes(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr := func(cn string, dns []string, ips ...string) []byte {
		tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}
		for _, ip := range ips {
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	ip := []Identifier{{Type: "ip", Value: "10.1.2.3"}}
	both := []Identifier{{Type: "dns", Value: "a.example.test"}, {Type: "ip", Value: "10.1.2.3"}}
	tests := []struct {
		name string
		der  []byte
		ids  []Identifier
		ok   bool
	}{
		{"ip as an IP SAN", csr("", nil, "10.1.2.3"), ip, true},
		{"ip as a dNSName", csr("", []string{"10.1.2.3"}), ip, false},
		{"ip as both", csr("", []string{"10.1.2.3"}, "10.1.2.3"), ip, false},
		{"ip CN with its IP SAN", csr("10.1.2.3", nil, "10.1.2.3"), ip, true},
		{"dns and ip", csr("a.example.test", []string{"a.example.test"}, "10.1.2.3"), both, true},
		{"ip written as the dns name", csr("", []string{"a.example.test", "10.1.2.3"}), both, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, p := checkCSR(tt.der, tt.ids)
			if (p == nil) != tt.ok {
				t.Fatalf("checkCSR: %v, want ok %v", p, tt.ok)
			}
			if p != nil && p.Type != ErrorNS+ProbBadCSR {
				t.Fatalf("problem %s", p.Type)
			}
		})
	}
}
