package server

import (
	"context"
	"encoding/asn1"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/internal/ctlogtest"
)

// withCT gives the primary CA's "server" profile a 1-of-1 policy on log.
func withCT(t *testing.T, log *ctlogtest.FakeLog) *testEnv {
	t.Helper()
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := ca.InitCA(context.Background(), ca.InitCARequest{
		Request: &csr.Request{CN: "pkid test CA with CT", Names: []csr.Name{{C: "US", O: "pkid test"}}, KeyRequest: csr.DefaultKeyRequest()},
		Signer:  key,
	})
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := profile.ParseCFSSL([]byte(plainConfig))
	if err != nil {
		t.Fatal(err)
	}
	profiles.Profiles["server"].CT = &config.CTPolicy{RequiredSCTs: 1, RequiredOperators: 1, Timeout: 2 * time.Second,
		Logs: []*config.CTLog{{URL: log.URL, KeyDER: log.KeyDER, Operator: "fake"}}}
	var issued *ca.Issuer
	e := newEnv(t, plainConfig, func(o *Options) {
		issued, err = ca.NewIssuer(ca.IssuerConfig{Label: "primary", Certificate: cert.Cert, Signer: key, Profiles: profiles, Store: o.Store, SCTs: ct.NewSource(ct.Options{})})
		if err != nil {
			t.Fatal(err)
		}
		o.CAs.CAs["primary"] = issued
	})
	e.cas["primary"] = cert.Cert
	return e
}

// TestSignSCTs: a profile with a ct block answers sign with the
// certificate (SCTs embedded) and the SCTs listed; other profiles answer
// as CFSSL does. A policy the logs cannot meet is a 503 naming the log.
func TestSignSCTs(t *testing.T) {
	log := ctlogtest.NewFakeLog(ctlogtest.Honest)
	defer log.Close()
	e := withCT(t, log)
	r := e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, "a.example", "a.example")), "profile": "server"})
	wantOK(t, r)
	var res struct {
		Certificate string   `json:"certificate"`
		SCTs        []ca.SCT `json:"scts"`
	}
	if err := json.Unmarshal(r.Result, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.SCTs) != 1 || res.SCTs[0].LogURL != log.URL || len(res.SCTs[0].Raw) == 0 || len(res.SCTs[0].LogID) != 32 {
		t.Fatalf("scts: %s", r.Result)
	}
	c := certOf(t, r, "certificate")
	verifies(t, c, e.cas["primary"])
	found := false
	for _, x := range c.Extensions {
		found = found || x.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2})
	}
	if !found {
		t.Error("no embedded SCT list")
	}
	// The default profile has no ct block: CFSSL's result exactly.
	r = e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, "b.example", "b.example"))})
	wantOK(t, r)
	var plain map[string]any
	json.Unmarshal(r.Result, &plain)
	if len(plain) != 1 || plain["certificate"] == nil {
		t.Errorf("without CT: %s", r.Result)
	}

	log.Mode.Store(int32(ctlogtest.Reject))
	r = e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, "c.example", "c.example")), "profile": "server"})
	wantError(t, r, http.StatusServiceUnavailable, ca.CodeCTSubmission, log.URL+": HTTP 400")
}
