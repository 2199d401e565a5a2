package server

import (
	"crypto"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/config"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/profile"
)

// Hostile and policy-breaking names through /sign: each a 400 with a
// JSON envelope naming the name (issue 11 items 3, 4 and 8).
func TestSignRefusesNames(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	// The audit's policy on the primary CA's server profile.
	e.set.CAs["primary"].Profiles().Profiles["server"].Names = &profile.NamePolicy{AllowDNS: []string{"*.svc.example.com"}}
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf("h%d.svc.example.com", i)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"CR/LF SAN", map[string]any{"hosts": []string{"a\r\nb.svc.example.com"}}, `DNS name "a\r\nb.svc.example.com"`},
		{"space SAN", map[string]any{"hosts": []string{"a b.svc.example.com"}}, `DNS name "a b.svc.example.com"`},
		{"IDN failing UTS 46", map[string]any{"hosts": []string{"a\u200db.svc.example.com"}}, `DNS name "a\u200db.svc.example.com" is not a valid internationalized name`},
		{"IDN outside the policy", map[string]any{"hosts": []string{"bücher.example.com"}}, `DNS name "xn--bcher-kva.example.com" is not in the allowed names`},
		{"CN bypass", map[string]any{"certificate_request": string(makeCSR(t, "www.google.com"))}, `common name "www.google.com": DNS name "www.google.com" is not in the allowed names`},
		{"subject override bypass", map[string]any{"subject": map[string]any{"CN": "www.google.com"}}, `common name "www.google.com"`},
		{"IP under a DNS-only allow list", map[string]any{"hosts": []string{"api.svc.example.com", "10.0.0.1"}}, "IP address 10.0.0.1 is not allowed"},
		{"email under a DNS-only allow list", map[string]any{"hosts": []string{"api.svc.example.com", "ops@svc.example.com"}}, `email address "ops@svc.example.com" is not allowed`},
		{"too many SANs", map[string]any{"hosts": many}, "certificate has 1001 names; the limit is 1000 (limits.max_sans)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"certificate_request": string(makeCSR(t, "api.svc.example.com")), "profile": "server"}
			for k, v := range tc.body {
				body[k] = v
			}
			wantError(t, e.post(t, "sign", body), http.StatusBadRequest, ca.CodePolicyViolation, tc.want)
		})
	}

	// An IDN is issued as its A-label (a 500 before); the policy applies to it.
	r := e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, "")), "hosts": []string{"bücher.example.com"}})
	wantOK(t, r)
	if c := certOf(t, r, "certificate"); !slices.Equal(c.DNSNames, []string{"xn--bcher-kva.example.com"}) {
		t.Errorf("IDN SAN = %q", c.DNSNames)
	}
	r = e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, "api.svc.example.com")), "profile": "server", "hosts": []string{"api.svc.example.com"}})
	wantOK(t, r)
}

// newcert checks the hosts it puts in its CSR; init_ca caps the pathlen.
func TestGenRefusesNamesAndDeepPathlen(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	wantError(t, e.post(t, "newcert", `{"request":{"CN":"n.example","hosts":["a\r\nb.example.com"]},"profile":"server"}`),
		http.StatusBadRequest, http.StatusBadRequest, `DNS name "a\r\nb.example.com"`)
	r := e.post(t, "newcert", `{"request":{"CN":"n.example","hosts":["bücher.example.com"]},"profile":"server"}`)
	wantOK(t, r)
	if c := certOf(t, r, "certificate"); !slices.Equal(c.DNSNames, []string{"xn--bcher-kva.example.com"}) {
		t.Errorf("newcert IDN SAN = %q", c.DNSNames)
	}
	wantError(t, e.post(t, "init_ca", `{"CN":"deep root","key":{"algo":"ecdsa","size":256},"ca":{"pathlen":1099511627776}}`),
		http.StatusBadRequest, ca.CodeInvalidPolicy, "ca.pathlen 1099511627776 exceeds the limit 32 (limits.max_path_len)")
	wantOK(t, e.post(t, "init_ca", `{"CN":"root","key":{"algo":"ecdsa","size":256},"ca":{"pathlen":32}}`))
}

// A configured max_path_len reaches init_ca, and an over-limit pathlen is
// refused before a key is generated.
func TestInitCAConfiguredPathLen(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	srv, err := New(Options{CAs: e.set, Limits: config.Limits{MaxPathLen: 3}})
	if err != nil {
		t.Fatal(err)
	}
	generated := 0
	srv.genKey = func(kr *csr.KeyRequest) (crypto.Signer, error) {
		generated++
		return kr.Generate()
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	post := func(body string) int {
		resp, err := http.Post(ts.URL+BasePath+"init_ca", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(`{"CN":"deep root","key":{"algo":"ecdsa","size":256},"ca":{"pathlen":4}}`); got != http.StatusBadRequest {
		t.Errorf("pathlen 4 under a limit of 3: status %d, want 400", got)
	}
	if generated != 0 {
		t.Errorf("a key was generated for a refused pathlen")
	}
	if got := post(`{"CN":"root","key":{"algo":"ecdsa","size":256},"ca":{"pathlen":3}}`); got != http.StatusOK {
		t.Errorf("pathlen 3 under a limit of 3: status %d, want 200", got)
	}
}
