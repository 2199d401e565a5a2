package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/config"
)

// Issue 11 items 5 and 8: crl's expiry is capped by the CA's crl.validity
// and bad values are client errors, never 500.
func TestCRLExpiryBounds(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	// secondary's crl block sets 48h; primary has none (168h).
	e.set.Blocks = map[string]*config.CA{"secondary": {Name: "secondary", CRL: &config.CRLSettings{Validity: 48 * time.Hour}}}
	for _, tc := range []struct {
		query, want string
	}{
		{"expiry=876000h", "168h"},
		{"expiry=169h", "168h"},
		{"label=secondary&expiry=49h", "48h"},
		{"label=secondary&expiry=168h", "48h"},
		{"expiry=1ns", "at least"},
		{"expiry=1s", "at least"},
		{"expiry=0s", "expiry"},
		{"expiry=-1h", "expiry"},
		{"expiry=soon", "expiry"},
		{"expiry=9999999999999999h", "expiry"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			wantError(t, e.do(t, http.MethodGet, "crl?"+tc.query, nil), 400, 400, tc.want)
		})
	}
	for _, tc := range []struct {
		query string
		ca    string
		want  time.Duration
	}{
		{"", "primary", 168 * time.Hour},
		{"expiry=24h", "primary", 24 * time.Hour},
		{"expiry=168h", "primary", 168 * time.Hour},
		{"label=secondary", "secondary", 48 * time.Hour},
		{"label=secondary&expiry=1h", "secondary", time.Hour},
	} {
		t.Run("ok "+tc.query, func(t *testing.T) {
			crl := crlOf(t, e.do(t, http.MethodGet, "crl?"+tc.query, nil), e.cas[tc.ca])
			if got := crl.NextUpdate.Sub(crl.ThisUpdate); got < tc.want-time.Second || got > tc.want+time.Second {
				t.Errorf("validity %v, want %v", got, tc.want)
			}
		})
	}
}

// timestamped is the start of an hclog text line.
var timestamped = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`)

// Issue 11 item 8: request fields cannot forge log lines; one request is
// one line of hclog's text format, of bounded length.
func TestRequestLogInjection(t *testing.T) {
	e := newEnv(t, plainConfig, nil)
	var buf bytes.Buffer
	s, err := New(Options{CAs: e.set, Store: e.store, Logger: hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Info})})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset() // New's own warnings
	forged := "x\n2030-01-01T00:00:00.000Z [ERROR] http: request: status=200 forged=yes\r\u2028"
	csrPEM := jsonString(string(makeCSR(t, "l.example", "l.example")))
	reqs := []struct{ method, target, body string }{
		{http.MethodPost, BasePath + "sign", `{"certificate_request":` + csrPEM + `,"profile":` + jsonString(forged) + `}`},
		{http.MethodPost, BasePath + "sign", `{"certificate_request":` + csrPEM + `,"profile":` + jsonString(strings.Repeat("p", 200000)) + `}`},
		{http.MethodPost, BasePath + "revoke", `{"serial":` + jsonString("1"+forged) + `,"authority_key_id":"abcd"}`},
		{http.MethodGet, BasePath + "nope%0A2030-01-01T00:00:00.000Z%20[ERROR]%20forged", ""},
		{http.MethodGet, BasePath + "crl?expiry=" + "1h%0Aforged", ""},
	}
	for _, r := range reqs {
		req := httptest.NewRequest(r.method, r.target, strings.NewReader(r.body))
		rec := httptest.NewRecorder()
		// ServeHTTP returns after the log line is written.
		s.Handler().ServeHTTP(rec, req)
		if rec.Code < 400 {
			t.Fatalf("%s %s: %d, want a client error", r.method, r.target, rec.Code)
		}
	}
	out := buf.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(reqs) {
		t.Fatalf("%d requests wrote %d lines:\n%s", len(reqs), len(lines), out)
	}
	for _, l := range lines {
		if !timestamped.MatchString(l) || strings.ContainsAny(l, "\r\u2028") {
			t.Errorf("line not a log line of its own: %q", l)
		}
		if len(l) > 4096 {
			t.Errorf("line of %d bytes: request values must be bounded", len(l))
		}
	}
}
