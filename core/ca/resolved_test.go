package ca_test

import (
	"crypto/x509"
	"slices"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
)

// A request that carries its resolved profile is not looked up again:
// the API resolves the profile once (to check its auth key) and Sign uses
// that one.
func TestSignUsesResolvedProfile(t *testing.T) {
	iss, _ := testIssuer(t, nil)
	client, err := iss.Profiles().Lookup("client")
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, _ := newCSR(t, &csr.Request{CN: "resolved.example", Hosts: []string{"resolved.example"}, KeyRequest: csr.DefaultKeyRequest()})
	for _, tc := range []struct {
		name    string
		req     ca.SignRequest
		wantEKU x509.ExtKeyUsage
		code    int
	}{
		{"resolved wins over the name", ca.SignRequest{CSR: csrPEM, Profile: "server", Resolved: client}, x509.ExtKeyUsageClientAuth, 0},
		{"resolved: the name is not looked up", ca.SignRequest{CSR: csrPEM, Profile: "gone", Resolved: client}, x509.ExtKeyUsageClientAuth, 0},
		{"by name", ca.SignRequest{CSR: csrPEM, Profile: "server"}, x509.ExtKeyUsageServerAuth, 0},
		{"unknown name", ca.SignRequest{CSR: csrPEM, Profile: "gone"}, 0, ca.CodeUnknownProfile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := iss.Sign(t.Context(), tc.req)
			if tc.code != 0 {
				if ca.CodeOf(err) != tc.code {
					t.Fatalf("err %v, want code %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Cert.ExtKeyUsage, []x509.ExtKeyUsage{tc.wantEKU}) {
				t.Errorf("extended key usages %v, want [%v]", c.Cert.ExtKeyUsage, tc.wantEKU)
			}
		})
	}
}
