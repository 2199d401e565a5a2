package server

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSignKeepsCSRHosts(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	r := e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, "a.example", "a.example", "10.0.0.1"))})
	wantOK(t, r)
	if !strings.HasSuffix(string(r.Result), `\n"}`) {
		t.Errorf("sign PEM must end in a newline: %s", r.Result)
	}
	c := certOf(t, r, "certificate")
	verifies(t, c, e.cas["primary"])
	if !slices.Equal(c.DNSNames, []string{"a.example"}) || len(c.IPAddresses) != 1 {
		t.Errorf("SANs = %v %v, want the CSR's", c.DNSNames, c.IPAddresses)
	}
	if got := c.NotAfter.Sub(c.NotBefore); got != 8760*time.Hour {
		t.Errorf("default profile validity = %v", got)
	}
}

func TestSignHostsOverride(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	csrPEM := string(makeCSR(t, "a.example", "a.example"))
	r := e.post(t, "sign", map[string]any{"certificate_request": csrPEM, "hosts": []string{"b.example", "192.0.2.1", "ops@example.com"}, "profile": "server"})
	wantOK(t, r)
	c := certOf(t, r, "certificate")
	if !slices.Equal(c.DNSNames, []string{"b.example"}) || !c.IPAddresses[0].Equal(net.ParseIP("192.0.2.1")) || !slices.Equal(c.EmailAddresses, []string{"ops@example.com"}) {
		t.Errorf("SANs = %v %v %v", c.DNSNames, c.IPAddresses, c.EmailAddresses)
	}
	if got := c.NotAfter.Sub(c.NotBefore); got != 720*time.Hour {
		t.Errorf("server profile validity = %v", got)
	}

	// hosts: [] removes the SANs.
	r = e.post(t, "sign", map[string]any{"certificate_request": csrPEM, "hosts": []string{}})
	wantOK(t, r)
	if c := certOf(t, r, "certificate"); len(c.DNSNames)+len(c.IPAddresses) != 0 {
		t.Errorf("hosts [] kept SANs: %v", c.DNSNames)
	}

	// hostname beats hosts, items trimmed (docs/differences-from-cfssl.md,
	// "Hostname items are trimmed").
	r = e.post(t, "sign", map[string]any{"certificate_request": csrPEM, "hosts": []string{"x.example"}, "hostname": "c.example, d.example ,"})
	wantOK(t, r)
	if c := certOf(t, r, "certificate"); !slices.Equal(c.DNSNames, []string{"c.example", "d.example"}) {
		t.Errorf("hostname: SANs = %q", c.DNSNames)
	}
}

func TestSignSubjectOverrideAndSerialKeys(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	// Keys match case-insensitively; unknown keys are ignored.
	body := `{"Certificate_Request":` + jsonString(string(makeCSR(t, "a.example", "a.example"))) + `,
	  "subject":{"CN":"override.example","names":[{"C":"DE","O":"Override GmbH"}]},"unknown":[1,2],"LABEL":"secondary"}`
	r := e.post(t, "sign", body)
	wantOK(t, r)
	c := certOf(t, r, "certificate")
	if c.Subject.CommonName != "override.example" || !slices.Equal(c.Subject.Organization, []string{"Override GmbH"}) || !slices.Equal(c.Subject.Country, []string{"DE"}) {
		t.Errorf("subject = %v", c.Subject)
	}
	verifies(t, c, e.cas["secondary"])
}

func TestSignErrors(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	csrPEM := string(makeCSR(t, "a.example", "a.example"))
	cases := []struct {
		name         string
		body         string
		status, code int
		want         string
	}{
		{"malformed", `{"certificate_request":`, 400, 400, "Unable to parse sign request"},
		{"not an object", `[1]`, 400, 400, "Unable to parse sign request"},
		{"wrong type", `{"certificate_request":"x","hosts":"a.example"}`, 400, 400, `"hosts"`},
		{"empty csr", `{"hosts":["a"]}`, 400, 400, "missing parameter 'certificate_request'"},
		{"bad label", `{"certificate_request":` + jsonString(csrPEM) + `,"label":"nope"}`, 400, 400, "bad label"},
		{"unknown profile", `{"certificate_request":` + jsonString(csrPEM) + `,"profile":"nope"}`, 400, 5400, "Unknown policy profile"},
		{"bad csr", `{"certificate_request":"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}`, 400, 9002, "certificate request"},
		{"bad serial", `{"certificate_request":` + jsonString(csrPEM) + `,"serial":1.5}`, 400, 400, "serial"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.post(t, "sign", tc.body), tc.status, tc.code, tc.want)
		})
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	r := e.do(t, http.MethodGet, "sign", nil)
	wantError(t, r, 405, 405, `Method is not allowed:"GET"`)
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: %v", r.Header)
	}
	if want := `{"success":false,"result":null,"errors":[{"code":405,"message":"Method is not allowed:\"GET\""}],"messages":[]}` + "\n"; string(r.Raw) != want {
		t.Errorf("envelope:\n got %s\nwant %s", r.Raw, want)
	}
	wantError(t, e.do(t, http.MethodPost, "nope", nil), 404, 404, "not found")
	wantError(t, e.do(t, http.MethodPost, "../x", nil), 404, 404, "not found")
	wantError(t, e.do(t, http.MethodPost, "health", nil), 405, 405, `"POST"`)
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, plainConfig, func(o *Options) { o.MaxBodyBytes = 1024 })
	big := `{"certificate_request":"` + strings.Repeat("A", 2048) + `"}`
	wantError(t, e.post(t, "sign", big), 413, 413, "too large")
}

func TestDefaultBodyLimit(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	big := `{"certificate_request":"` + strings.Repeat("A", DefaultMaxBodyBytes) + `"}`
	wantError(t, e.post(t, "sign", big), 413, 413, "too large")
}

func TestDisabled(t *testing.T) {
	e := newEnv(t, plainConfig, func(o *Options) { o.Disabled = []string{"sign", "init_ca"} })
	wantError(t, e.post(t, "sign", `{}`), 404, 404, "not found")
	wantError(t, e.post(t, "init_ca", `{}`), 404, 404, "not found")
	if _, err := New(Options{Disabled: []string{"bogus"}}); err == nil {
		t.Error("unknown disabled endpoint accepted")
	}
}

func TestSignBundleAdvisory(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	r := e.post(t, "sign", map[string]any{"certificate_request": string(makeCSR(t, "a.example", "a.example")), "bundle": true})
	wantOK(t, r)
	if len(r.Messages) != 1 || r.Messages[0].Code != 5300 {
		t.Errorf("messages = %v", r.Messages)
	}
}
