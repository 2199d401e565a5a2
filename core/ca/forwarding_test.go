package ca_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
)

// A forwarding profile is never issued with the local key, whatever path
// (renewal, offline issuance) reaches the issuer without core/forward.
func TestForwardingProfileNotIssuedLocally(t *testing.T) {
	iss, _ := testIssuer(t, func(c *profile.Config) {
		fwd := *c.Profiles["server"]
		fwd.Remote = "upstream"
		c.Profiles["fwd"] = &fwd
		viaAuth := *c.Profiles["server"]
		viaAuth.AuthRemote = &profile.AuthRemote{Remote: "upstream", AuthKey: "k"}
		c.Profiles["fwdauth"] = &viaAuth
	})
	csrPEM, _ := newCSR(t, &csr.Request{CN: "f.example", Hosts: []string{"f.example"}})
	for _, name := range []string{"fwd", "fwdauth"} {
		_, err := iss.Sign(context.Background(), ca.SignRequest{CSR: csrPEM, Profile: name})
		var ce *ca.Error
		if !errors.As(err, &ce) || ce.Code != ca.CodeInvalidPolicy {
			t.Errorf("%s: err %v, want a 5200 refusal", name, err)
		}
	}
	if _, err := iss.Sign(context.Background(), ca.SignRequest{CSR: csrPEM, Profile: "server"}); err != nil {
		t.Fatalf("local profile: %v", err)
	}
}
