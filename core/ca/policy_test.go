package ca_test

import (
	"context"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
)

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

// The allow/deny name policy of a profile, per name type.
func TestNamePolicy(t *testing.T) {
	iss, _ := testIssuer(t, func(c *profile.Config) {
		c.Profiles["server"].Names = &profile.NamePolicy{
			AllowDNS:       []string{"*.svc.example.com", "example.com"},
			DenyDNS:        []string{"admin.svc.example.com"},
			AllowIP:        []*net.IPNet{mustCIDR("10.0.0.0/8")},
			DenyIP:         []*net.IPNet{mustCIDR("10.9.0.0/16")},
			AllowEmail:     []string{"example.com"},
			AllowURI:       []string{"*.svc.example.com"},
			AllowWildcards: false,
		}
	})
	ctx := context.Background()
	for _, tc := range []struct {
		hosts []string
		want  string // "" = issued
	}{
		{[]string{"api.svc.example.com", "example.com", "10.1.2.3", "ops@example.com", "spiffe://api.svc.example.com/x"}, ""},
		{[]string{"admin.svc.example.com"}, `"admin.svc.example.com" is denied`},
		{[]string{"a.b.svc.example.com"}, "not in the allowed names"}, // wildcard covers one label only
		{[]string{"www.example.org"}, "not in the allowed names"},
		{[]string{"*.svc.example.com"}, "wildcard"},
		{[]string{"10.9.1.1"}, "is denied"},
		{[]string{"192.168.1.1"}, "not in the allowed ranges"},
		{[]string{"ops@example.org"}, "outside the permitted"},
		{[]string{"spiffe://evil.org/x"}, "not in the allowed hosts"},
	} {
		// The CN is a name under the policy too (TestNamePolicySubject).
		c, _ := newCSR(t, &csr.Request{CN: "example.com", Hosts: []string{"example.com"}})
		_, err := iss.Sign(ctx, ca.SignRequest{CSR: c, Profile: "server", Hosts: tc.hosts})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: refused: %v", tc.hosts, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: err = %v; want it to mention %q", tc.hosts, err, tc.want)
		case tc.want != "" && ca.CodeOf(err) != ca.CodePolicyViolation:
			t.Errorf("%v: code %d", tc.hosts, ca.CodeOf(err))
		}
	}
}

// What a profile writes: URLs, OCSP no-check, policies with qualifiers,
// allowed request extensions; the CSR whitelist filters what is copied.
func TestProfileExtensions(t *testing.T) {
	openssl := requireOpenSSL(t)
	extOID := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 7}
	iss, root := testIssuer(t, func(c *profile.Config) {
		p := c.Profiles["server"]
		p.OCSPURL = "http://ocsp.example.com"
		p.CRLURL = "http://crl.example.com/ca.crl"
		p.IssuerURLs = []string{"http://ca.example.com/ca.crt"}
		p.OCSPNoCheck = true
		p.Policies = []profile.Policy{{ID: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1},
			Qualifiers: []profile.PolicyQualifier{{Type: "id-qt-cps", Value: "https://example.com/cps"}, {Type: "id-qt-unotice", Value: "internal use"}}}}
		p.AllowedExtensions = []asn1.ObjectIdentifier{extOID}
		p.CSRWhitelist = &profile.CSRWhitelist{Subject: true, PublicKey: true, DNSNames: true}
	})
	c, _ := newCSR(t, &csr.Request{CN: "ext.example.com", Hosts: []string{"ext.example.com", "10.0.0.1", "ops@example.com"}})
	extVal, _ := asn1.Marshal("hello")
	cert, err := iss.Sign(context.Background(), ca.SignRequest{CSR: c, Profile: "server", Extensions: []pkix.Extension{{Id: extOID, Value: extVal}}})
	if err != nil {
		t.Fatal(err)
	}
	cc := cert.Cert
	if len(cc.OCSPServer) != 1 || len(cc.CRLDistributionPoints) != 1 || len(cc.IssuingCertificateURL) != 1 {
		t.Errorf("URLs: %v %v %v", cc.OCSPServer, cc.CRLDistributionPoints, cc.IssuingCertificateURL)
	}
	if len(cc.IPAddresses) != 0 || len(cc.EmailAddresses) != 0 || len(cc.DNSNames) != 1 {
		t.Errorf("CSR whitelist (DNS names only) not applied: %v %v %v", cc.DNSNames, cc.IPAddresses, cc.EmailAddresses)
	}
	dir := t.TempDir()
	leaf := writePEM(t, dir, "leaf.pem", cc)
	text, _ := exec.Command(openssl, "x509", "-noout", "-text", "-in", leaf).CombinedOutput()
	for _, want := range []string{"OCSP - URI:http://ocsp.example.com", "URI:http://crl.example.com/ca.crl", "CA Issuers - URI:http://ca.example.com/ca.crt",
		"OCSP No Check", "Policy: 1.3.6.1.4.1.99999.1", "CPS: https://example.com/cps", "Explicit Text: internal use", "1.3.6.1.4.1.99999.7"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("certificate lacks %q", want)
		}
	}
	if out, err := exec.Command(openssl, "verify", "-CAfile", writePEM(t, dir, "root.pem", root), leaf).CombinedOutput(); err != nil {
		t.Errorf("verify: %v %s", err, out)
	}

	// An extension the profile does not allow is refused.
	other := asn1.ObjectIdentifier{1, 2, 3, 4}
	_, err = iss.Sign(context.Background(), ca.SignRequest{CSR: c, Profile: "server", Extensions: []pkix.Extension{{Id: other, Value: extVal}}})
	if ca.CodeOf(err) != ca.CodePolicyViolation || !strings.Contains(err.Error(), "1.2.3.4") {
		t.Errorf("disallowed extension: %v", err)
	}
}
