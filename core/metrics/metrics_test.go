package metrics

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestObserveRequest(t *testing.T) {
	m := New()
	for _, r := range []Request{
		{Endpoint: "sign", CA: "issuing", Profile: "server", Status: 200, Duration: time.Millisecond},
		{Endpoint: "sign", CA: "issuing", Profile: "server", Status: 400, Lints: []string{"e_a", "w_b"}},
		{Endpoint: "authsign", CA: "issuing", Profile: "server", Status: 503},
		{Endpoint: "newcert", CA: "issuing", Profile: "", Status: 500},
		{Endpoint: "revoke", CA: "issuing", Status: 200},
		{Endpoint: "revoke", CA: "", Status: 404},
		{Endpoint: "sign", Status: 400, AuthFailure: true},
		{Endpoint: "info", CA: "issuing", Status: 200},
		{Endpoint: "acme-finalize", CA: "issuing", Profile: "acme", Status: 200},
		{Endpoint: "acme-finalize", CA: "issuing", Profile: "acme", Status: 403}, // orderNotReady
		{Endpoint: "acme-revoke", CA: "issuing", Profile: "acme", Status: 200},
		{Endpoint: "acme-order", CA: "issuing", Profile: "acme", Status: 201},
		{Endpoint: "", Status: 404}, // unknown path: not counted
	} {
		m.ObserveRequest(r)
	}
	for _, c := range []struct {
		got  float64
		want float64
		what string
	}{
		{testutil.ToFloat64(m.issuance.WithLabelValues("issuing", "server", OutcomeIssued)), 1, "issued"},
		{testutil.ToFloat64(m.issuance.WithLabelValues("issuing", "server", OutcomeRefused)), 1, "refused"},
		{testutil.ToFloat64(m.issuance.WithLabelValues("issuing", "server", OutcomeUnavailable)), 1, "unavailable"},
		{testutil.ToFloat64(m.issuance.WithLabelValues("issuing", "", OutcomeError)), 1, "error"},
		{testutil.ToFloat64(m.lintRefusals.WithLabelValues("issuing", "server", "e_a")), 1, "lint e_a"},
		{testutil.ToFloat64(m.lintRefusals.WithLabelValues("issuing", "server", "w_b")), 1, "lint w_b"},
		{testutil.ToFloat64(m.revocations.WithLabelValues("issuing", "revoked")), 2, "revoked (API and ACME)"},
		{testutil.ToFloat64(m.issuance.WithLabelValues("issuing", "acme", OutcomeIssued)), 1, "ACME issued"},
		{testutil.ToFloat64(m.issuance.WithLabelValues("issuing", "acme", OutcomeRefused)), 1, "ACME refused"},
		{testutil.ToFloat64(m.revocations.WithLabelValues("", OutcomeRefused)), 1, "revoke refused"},
		{testutil.ToFloat64(m.requests.WithLabelValues("sign", "issuing")), 2, "requests sign"},
		{testutil.ToFloat64(m.errored.WithLabelValues("sign", "issuing")), 1, "errored sign"},
		{testutil.ToFloat64(m.badInputs.WithLabelValues("sign")), 2, "bad inputs sign"},
		{testutil.ToFloat64(m.authFailures.WithLabelValues("sign")), 1, "auth failures"},
		{float64(testutil.CollectAndCount(m.requests)), 10, "request series"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestCollector(t *testing.T) {
	m := New()
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	calls := 0
	fail := false
	c := NewCollector(Source{
		Now: func() time.Time { return now },
		Plugins: func(context.Context) []PluginState {
			return []PluginState{{Kind: "keystore", Type: "file", Restarts: 2, Healthy: true}, {Kind: "certstore", Type: "sqlite"}}
		},
		CRLs: func() []CRLState {
			return []CRLState{{CA: "issuing", Kind: "full", ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(time.Hour), Bytes: 500, Entries: 3}}
		},
		Expiring: func(_ context.Context, within time.Duration) (map[string]int, error) {
			calls++
			if fail {
				return nil, errors.New("store down")
			}
			return map[string]int{"issuing": int(within / (24 * time.Hour))}, nil
		},
		Leader: func() bool { return true },
	})
	if err := m.Register(c); err != nil {
		t.Fatal(err)
	}
	text := scrapeText(t, m)
	for _, want := range []string{
		`pkid_plugin_up{kind="keystore",type="file"} 1`, `pkid_plugin_up{kind="certstore",type="sqlite"} 0`,
		`pkid_plugin_restarts_total{kind="keystore",type="file"} 2`,
		`pkid_crl_age_seconds{ca="issuing",kind="full"} 3600`, `pkid_crl_next_update_seconds{ca="issuing",kind="full"} 3600`,
		`pkid_crl_size_bytes{ca="issuing",kind="full"} 500`, `pkid_crl_entries{ca="issuing",kind="full"} 3`,
		`pkid_certificates_expiring{ca="issuing",within="7d"} 7`, `pkid_certificates_expiring{ca="issuing",within="30d"} 30`,
		`pkid_jobs_leader 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	// The expiry counts are cached; a failed refresh keeps the last ones.
	scrapeText(t, m)
	if calls != 2 {
		t.Fatalf("%d store queries for two scrapes within the TTL, want 2 (one per window)", calls)
	}
	fail = true
	now = now.Add(10 * time.Minute)
	text = scrapeText(t, m)
	if !strings.Contains(text, `pkid_certificates_expiring{ca="issuing",within="30d"} 30`) || !strings.Contains(text, "pkid_certificates_expiring_scrape_errors_total 1") {
		t.Fatalf("after a failed refresh:\n%s", text)
	}
}

func scrapeText(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d", rec.Code)
	}
	return rec.Body.String()
}

// Every metric this package defines passes promtool's lint.
func TestExpositionPassesPromtool(t *testing.T) {
	m := New()
	m.ObserveRequest(Request{Endpoint: "sign", CA: "a", Profile: "p", Status: 400, Lints: []string{"e_x"}})
	m.ObserveRequest(Request{Endpoint: "revoke", CA: "a", Status: 200})
	m.PluginCall("keystore", "file", "dev", time.Millisecond, errors.New("x"), true)
	m.StoreBatch("main", 3, time.Millisecond)
	m.OCSP(OCSPHit, time.Millisecond)
	m.Audit("issuance", nil)
	m.Audit("issuance", errors.New("disk full"))
	m.Register(NewCollector(Source{Leader: func() bool { return false }}))
	path, err := exec.LookPath("promtool")
	if err != nil {
		testtool.Missing(t, "promtool (apt-get install prometheus; scripts/test.sh does)", err)
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader([]byte(scrapeText(t, m)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// BenchmarkObserveRequest is the metrics cost of one issuance request.
func BenchmarkObserveRequest(b *testing.B) {
	m := New()
	r := Request{Endpoint: "sign", CA: "issuing", Profile: "server", Status: 200, Duration: time.Millisecond}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.ObserveRequest(r)
	}
}
