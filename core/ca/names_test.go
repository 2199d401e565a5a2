package ca_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
)

// dnsOnly is the audit's policy: an allow list for DNS names only.
func dnsOnly(c *profile.Config) {
	c.Profiles["server"].Names = &profile.NamePolicy{AllowDNS: []string{"*.svc.example.com"}}
}

// rawCSR builds a CSR with SANs Generate would refuse (a hostile client
// builds its own).
func rawCSR(t *testing.T, cn string, dns, emails []string, uris []*url.URL) []byte {
	t.Helper()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn}, DNSNames: dns, EmailAddresses: emails, URIs: uris,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// The subject's CN is a name too: classified as IP, email, URI or DNS and
// checked against that type's lists; once any allow list is set, types
// without one are denied, and a CN that is no name at all is refused.
// openssl's hostname check is the independent client: what it would accept
// must not be issued.
func TestNamePolicySubject(t *testing.T) {
	openssl := requireOpenSSL(t)
	ctx := context.Background()
	policies := map[string]*profile.NamePolicy{
		"dns-only":  {AllowDNS: []string{"*.svc.example.com"}},
		"ip-only":   {AllowIP: []*net.IPNet{mustCIDR("10.0.0.0/8")}},
		"deny-only": {DenyDNS: []string{"www.google.com"}, DenyIP: []*net.IPNet{mustCIDR("192.0.2.0/24")}},
		"all-types": {AllowDNS: []string{"*.svc.example.com"}, AllowIP: []*net.IPNet{mustCIDR("10.0.0.0/8")},
			AllowEmail: []string{"example.com"}, AllowURI: []string{"*.svc.example.com"}},
	}
	iss, root := testIssuer(t, func(c *profile.Config) {
		for name, np := range policies {
			p := *c.Profiles["server"]
			p.Name, p.Names = name, np
			c.Profiles[name] = &p
		}
	})
	rootF := writePEM(t, t.TempDir(), "root.pem", root)
	for _, tc := range []struct {
		profile string
		csrCN   string
		hosts   []string // nil: the CSR's (none)
		subject string   // a subject CN override
		want    string   // "" = issued
	}{
		{"dns-only", "www.google.com", nil, "", `"www.google.com" is not in the allowed names`},
		{"dns-only", "api.svc.example.com", nil, "www.google.com", `"www.google.com" is not in the allowed names`},
		{"dns-only", "www.google.com", []string{"api.svc.example.com"}, "", `"www.google.com" is not in the allowed names`},
		{"dns-only", "WWW.GOOGLE.COM", nil, "", `"WWW.GOOGLE.COM" is not in the allowed names`},
		{"dns-only", "10.1.2.3", nil, "", "IP address 10.1.2.3 is not allowed"},
		{"dns-only", "ops@example.com", nil, "", `email address "ops@example.com" is not allowed`},
		{"dns-only", "spiffe://api.svc.example.com/x", nil, "", `URI "spiffe://api.svc.example.com/x" is not allowed`},
		{"dns-only", "policy test", nil, "", `common name "policy test" is not a DNS name, IP address, email address or URI`},
		{"dns-only", "  ", nil, "", `common name "  " is not a DNS name`},
		{"dns-only", "a\r\nb.svc.example.com", nil, "", `"a\r\nb.svc.example.com"`},
		{"dns-only", "api.svc.example.com", nil, "", ""},
		{"dns-only", "api.svc.example.com", []string{"api.svc.example.com"}, "", ""},
		{"dns-only", "", []string{"api.svc.example.com"}, "", ""},
		{"ip-only", "10.1.2.3", nil, "", ""},
		{"ip-only", "api.svc.example.com", nil, "", `DNS name "api.svc.example.com" is not allowed`},
		{"deny-only", "www.google.com", nil, "", `"www.google.com" is denied`},
		{"deny-only", "192.0.2.1", nil, "", "192.0.2.1 is denied"},
		{"deny-only", "policy test", nil, "", ""}, // no allow list: a CN may be free text
		{"deny-only", "www.example.org", nil, "", ""},
		{"all-types", "ops@example.com", nil, "", ""},
		{"all-types", "ops@example.org", nil, "", "outside the permitted"},
		{"all-types", "spiffe://api.svc.example.com/x", nil, "", ""},
		{"server", "www.google.com", nil, "", ""}, // no policy
	} {
		t.Run(fmt.Sprintf("%s/%q/%v/%q", tc.profile, tc.csrCN, tc.hosts, tc.subject), func(t *testing.T) {
			c := rawCSR(t, tc.csrCN, nil, nil, nil)
			req := ca.SignRequest{CSR: c, Profile: tc.profile, Hosts: tc.hosts}
			if tc.subject != "" {
				req.Subject = &ca.Subject{CN: tc.subject}
			}
			cert, err := iss.Sign(ctx, req)
			if tc.want != "" {
				if err == nil {
					cn := cert.Cert.Subject.CommonName
					out, verr := exec.Command(openssl, "verify", "-CAfile", rootF, "-verify_hostname", cn, writePEM(t, t.TempDir(), "leaf.pem", cert.Cert)).CombinedOutput()
					t.Fatalf("issued CN=%q SANs %q (openssl -verify_hostname %q: %v %s)", cn, cert.Cert.DNSNames, cn, verr, out)
				}
				if !strings.Contains(err.Error(), tc.want) || ca.CodeOf(err) != ca.CodePolicyViolation {
					t.Fatalf("err = %v (code %d); want 5300 mentioning %q", err, ca.CodeOf(err), tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			// What was allowed verifies for its name with openssl.
			if name := cert.Cert.Subject.CommonName; strings.Contains(name, ".") && !strings.ContainsAny(name, "@:") && net.ParseIP(name) == nil {
				out, err := exec.Command(openssl, "verify", "-CAfile", rootF, "-verify_hostname", name, writePEM(t, t.TempDir(), "leaf.pem", cert.Cert)).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "OK") {
					t.Errorf("openssl verify -verify_hostname %s: %v %s", name, err, out)
				}
			}
		})
	}
}

// SANs: hostile or malformed names are refused before lint with an error
// quoting them, whether they come from hosts or the CSR; IDNs become
// A-labels and policy applies to the A-label; once any allow list is set,
// SAN types without one are denied.
func TestSANSyntaxAndPolicy(t *testing.T) {
	ctx := context.Background()
	iss, _ := testIssuer(t, func(c *profile.Config) {
		dnsOnly(c)
		p := *c.Profiles["server"]
		p.Name, p.Names = "idn", &profile.NamePolicy{AllowDNS: []string{"*.xn--bcher-kva.example.com"}}
		c.Profiles["idn"] = &p
		open := *c.Profiles["server"]
		open.Name, open.Names, open.CopyExtensions = "open", nil, true
		c.Profiles["open"] = &open
	})
	bad := &url.URL{Scheme: "spiffe", Host: "bücher.example.com", Path: "/x"}
	for _, tc := range []struct {
		name    string
		profile string
		hosts   []string
		csr     []byte
		want    string // error substring, or "" = issued
		wantDNS []string
	}{
		{"crlf host", "server", []string{"a\r\nb.svc.example.com"}, nil, `DNS name "a\r\nb.svc.example.com"`, nil},
		{"space host", "server", []string{"a b.svc.example.com"}, nil, `DNS name "a b.svc.example.com"`, nil},
		{"crlf host, no policy", "open", []string{"a\r\nb.example.com"}, nil, `DNS name "a\r\nb.example.com"`, nil},
		{"crlf in CSR", "open", nil, rawCSR(t, "", []string{"a\r\nb.example.com"}, nil, nil), `DNS name "a\r\nb.example.com"`, nil},
		{"space in CSR", "server", nil, rawCSR(t, "", []string{"x y.svc.example.com"}, nil, nil), `DNS name "x y.svc.example.com"`, nil},
		{"control email in CSR", "open", nil, rawCSR(t, "", nil, []string{"a\nb@example.com"}, nil), `email address "a\nb@example.com"`, nil},
		{"non-ASCII URI host", "open", []string{bad.String()}, nil, "", nil},
		{"IDN", "open", []string{"bücher.example.com"}, nil, "", []string{"xn--bcher-kva.example.com"}},
		{"IDN under policy", "idn", []string{"www.bücher.example.com"}, nil, "", []string{"www.xn--bcher-kva.example.com"}},
		{"IDN U-label policy mismatch", "server", []string{"bücher.svc.example.org"}, nil, `"xn--bcher-kva.svc.example.org" is not in the allowed names`, nil},
		{"IDN that fails UTS 46", "open", []string{"a\u200db.example.com"}, nil, `DNS name "a\u200db.example.com" is not a valid internationalized name`, nil},
		{"IP under DNS-only", "server", []string{"api.svc.example.com", "10.0.0.1"}, nil, "IP address 10.0.0.1 is not allowed", nil},
		{"email under DNS-only", "server", []string{"api.svc.example.com", "ops@svc.example.com"}, nil, `email address "ops@svc.example.com" is not allowed`, nil},
		{"URI under DNS-only", "server", []string{"spiffe://api.svc.example.com/x"}, nil, `URI "spiffe://api.svc.example.com/x" is not allowed`, nil},
		{"allowed", "server", []string{"api.svc.example.com"}, nil, "", []string{"api.svc.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.csr
			if c == nil {
				c = rawCSR(t, "", nil, nil, nil)
			}
			cert, err := iss.Sign(ctx, ca.SignRequest{CSR: c, Profile: tc.profile, Hosts: tc.hosts})
			if tc.want != "" {
				if err == nil {
					t.Fatalf("issued: DNS %q email %q", cert.Cert.DNSNames, cert.Cert.EmailAddresses)
				}
				if !strings.Contains(err.Error(), tc.want) || ca.CodeOf(err) != ca.CodePolicyViolation {
					t.Fatalf("err = %v (code %d); want 5300 mentioning %q", err, ca.CodeOf(err), tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v (code %d)", err, ca.CodeOf(err))
			}
			if tc.wantDNS != nil && fmt.Sprint(cert.Cert.DNSNames) != fmt.Sprint(tc.wantDNS) {
				t.Errorf("DNS names %q, want %q", cert.Cert.DNSNames, tc.wantDNS)
			}
			if tc.name == "non-ASCII URI host" && (len(cert.Cert.URIs) != 1 || cert.Cert.URIs[0].String() != "spiffe://xn--bcher-kva.example.com/x") {
				t.Errorf("URIs %v", cert.Cert.URIs)
			}
		})
	}
}

// Default limits: at most 1000 SANs and 64 KiB per certificate; a CA
// certificate's pathlen at most 32.
func TestDefaultLimits(t *testing.T) {
	ctx := context.Background()
	iss, _ := testIssuer(t, nil)
	hosts := func(n, size int) []string {
		var out []string
		for i := range n {
			h := fmt.Sprintf("h%d.", i)
			out = append(out, h+strings.Repeat("a", size-len(h)-len(".example.com"))+".example.com")
		}
		return out
	}
	c := rawCSR(t, "limits", nil, nil, nil)
	for _, tc := range []struct {
		name  string
		hosts []string
		want  string
	}{
		{"1000 SANs", hosts(1000, 20), ""},
		{"1001 SANs", hosts(1001, 20), "certificate has 1001 names; the limit is 1000 (limits.max_sans)"},
		{"60000 SANs", hosts(60000, 20), "certificate has 60000 names; the limit is 1000 (limits.max_sans)"},
		{"70 KB of names", hosts(1000, 70), "the limit is 65536 bytes (limits.max_certificate_bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := iss.Sign(ctx, ca.SignRequest{CSR: c, Profile: "server", Hosts: tc.hosts})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("issued a certificate of %d bytes with %d names", len(cert.DER), len(cert.Cert.DNSNames))
			}
			if !strings.Contains(err.Error(), tc.want) || ca.CodeOf(err) != ca.CodePolicyViolation {
				t.Fatalf("err = %v (code %d); want 5300 %q", err, ca.CodeOf(err), tc.want)
			}
		})
	}

	for _, tc := range []struct {
		pathlen int
		want    string
	}{
		{32, ""},
		{33, "ca.pathlen 33 exceeds the limit 32 (limits.max_path_len)"},
		{1 << 40, "ca.pathlen 1099511627776 exceeds the limit 32 (limits.max_path_len)"},
	} {
		req := &csr.Request{CN: "deep root", KeyRequest: keyReq("ecdsa", 256), CA: &csr.CAConfig{PathLength: tc.pathlen}}
		key, err := req.KeyRequest.Generate()
		if err != nil {
			t.Fatal(err)
		}
		cert, _, err := ca.InitCA(ctx, ca.InitCARequest{Request: req, Signer: key})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("pathlen %d: %v", tc.pathlen, err)
		case tc.want != "" && err == nil:
			t.Errorf("pathlen %d: issued with MaxPathLen %d", tc.pathlen, cert.Cert.MaxPathLen)
		case tc.want != "" && (!strings.Contains(err.Error(), tc.want) || ca.CodeOf(err) != ca.CodeInvalidPolicy):
			t.Errorf("pathlen %d: err = %v (code %d); want 5200 %q", tc.pathlen, err, ca.CodeOf(err), tc.want)
		}
	}
}

// Configured limits (IssuerConfig, from the pkid block's limits): each
// check in its place, with messages naming the limit.
func TestConfiguredLimits(t *testing.T) {
	ctx := context.Background()
	rootReq := &csr.Request{CN: "pkid limits root", KeyRequest: keyReq("ecdsa", 256)}
	key, err := rootReq.KeyRequest.Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(ctx, ca.InitCARequest{Request: rootReq, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "root", Certificate: root.Cert, Signer: key, Profiles: mustProfiles(t), Store: store,
		MaxSANs: 3, MaxCertificateBytes: 1024, MaxPathLen: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := rawCSR(t, "limits", nil, nil, nil)
	long := func(c string) string { // 253 bytes, the longest DNS name
		return strings.Repeat(c, 63) + "." + strings.Repeat(c, 63) + "." + strings.Repeat(c, 63) + "." + strings.Repeat(c, 57) + ".com"
	}
	for _, tc := range []struct {
		name  string
		hosts []string
		want  string
	}{
		{"3 SANs", []string{"a.example.com", "10.0.0.1", "ops@example.com"}, ""},
		{"4 SANs", []string{"a.example.com", "b.example.com", "10.0.0.1", "ops@example.com"}, "certificate has 4 names; the limit is 3 (limits.max_sans)"},
		// Names alone above the limit: refused before lint.
		{"1100 bytes of names", []string{long("a"), long("b"), strings.Repeat("x", 580) + "@example.com"}, "certificate would be at least"},
		// Names below the limit, the encoded certificate above it.
		{"760 bytes of names", []string{long("a"), long("b"), long("c")}, "certificate would be about"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(store.recs)
			cert, err := iss.Sign(ctx, ca.SignRequest{CSR: c, Profile: "server", Hosts: tc.hosts})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(cert.DER) > 1024 {
					t.Errorf("issued %d bytes", len(cert.DER))
				}
				return
			}
			if err == nil {
				t.Fatalf("issued a certificate of %d bytes with %d names", len(cert.DER), len(cert.Cert.DNSNames))
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "limit is") || ca.CodeOf(err) != ca.CodePolicyViolation {
				t.Fatalf("err = %v (code %d); want 5300 %q", err, ca.CodeOf(err), tc.want)
			}
			if len(store.recs) != before {
				t.Error("a refused certificate was recorded")
			}
		})
	}

	// A profile's pathlen above the limit is a configuration error.
	p := mustProfiles(t)
	p.Profiles["intermediate"].CA = profile.CAConstraint{IsCA: true, MaxPathLen: 3}
	_, err = ca.NewIssuer(ca.IssuerConfig{Certificate: root.Cert, Signer: key, Profiles: p, MaxPathLen: 2})
	if ca.CodeOf(err) != ca.CodeInvalidPolicy || !strings.Contains(fmt.Sprint(err), `profile "intermediate": ca_constraint max_path_len 3 exceeds the limit 2 (limits.max_path_len)`) {
		t.Errorf("profile pathlen 3 under limit 2: %v", err)
	}
	p.Profiles["intermediate"].CA.MaxPathLen = 2
	if _, err := ca.NewIssuer(ca.IssuerConfig{Certificate: root.Cert, Signer: key, Profiles: p, MaxPathLen: 2}); err != nil {
		t.Errorf("profile pathlen 2 under limit 2: %v", err)
	}
	_, _, err = ca.InitCA(ctx, ca.InitCARequest{Request: &csr.Request{CN: "r", KeyRequest: keyReq("ecdsa", 256), CA: &csr.CAConfig{PathLength: 3}}, Signer: key, MaxPathLen: 2})
	if ca.CodeOf(err) != ca.CodeInvalidPolicy || !strings.Contains(fmt.Sprint(err), "ca.pathlen 3 exceeds the limit 2") {
		t.Errorf("init_ca pathlen 3 under limit 2: %v", err)
	}
}
