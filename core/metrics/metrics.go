// Package metrics holds pkid's Prometheus metrics: what the daemon issues
// and how fast, its plugins' calls, restarts and health, certificate
// writes, OCSP answers, CRL freshness, certificates about to expire and
// job leadership. Instrumented packages call the methods of Default on
// their hot paths (a counter increment and, for latencies, one histogram
// observation); gauges that need a look at the outside (plugin health,
// CRL files, expiring certificates) are computed when scraped.
//
// The daemon serves Handler on its own listener (metrics_listen), never on
// the API listener: the API may face the internet, metrics should not.
// docs/operations.md lists every metric.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Issuance outcomes (the outcome label).
const (
	OutcomeIssued      = "issued"
	OutcomeRefused     = "refused"     // the request was refused (4xx): policy, lint, bad CSR
	OutcomeUnavailable = "unavailable" // a plugin or the store was unavailable (503)
	OutcomeError       = "error"       // any other server fault
)

// Metrics is one set of pkid metrics with its registry.
type Metrics struct {
	reg *prometheus.Registry

	issuance        *prometheus.CounterVec
	issuanceSeconds *prometheus.HistogramVec
	lintRefusals    *prometheus.CounterVec

	// multirootca's names (CFSSL compatibility).
	requests  *prometheus.CounterVec
	errored   *prometheus.CounterVec
	badInputs *prometheus.CounterVec

	httpSeconds  *prometheus.HistogramVec
	revocations  *prometheus.CounterVec
	authFailures *prometheus.CounterVec

	pluginSeconds *prometheus.HistogramVec
	pluginErrors  *prometheus.CounterVec
	batchSize     *prometheus.HistogramVec
	commitSeconds *prometheus.HistogramVec

	ocsp        *prometheus.CounterVec
	ocspSeconds *prometheus.HistogramVec

	auditRecords *prometheus.CounterVec
	auditErrors  prometheus.Counter
}

// Default is the process's metrics, which the daemon serves.
var Default = New()

var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns a fresh set of metrics on its own registry (with the Go
// runtime and process collectors).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		m.reg.MustRegister(h)
		return h
	}
	m.issuance = counter("pkid_issuance_total", "Certificate issuance requests by CA, profile and outcome (issued, refused, unavailable, error).", "ca", "profile", "outcome")
	m.issuanceSeconds = histogram("pkid_issuance_duration_seconds", "Time to answer an issuance request (sign, authsign, newcert), by CA, profile and outcome.", latencyBuckets, "ca", "profile", "outcome")
	m.lintRefusals = counter("pkid_lint_refusals_total", "Issuances refused by pre-issuance lint, by CA, profile and lint name (one per offending lint).", "ca", "profile", "lint")
	m.requests = counter("requests_total", "API requests by operation (endpoint) and signer (CA label); multirootca's metric.", "operation", "signer")
	m.errored = counter("requests_errored_total", "API requests that failed, by operation and signer; multirootca's metric.", "operation", "signer")
	m.badInputs = counter("bad_inputs_total", "API requests refused as bad input (4xx), by operation; multirootca's metric.", "operation")
	m.httpSeconds = histogram("pkid_http_request_duration_seconds", "API request latency by endpoint and status class.", latencyBuckets, "endpoint", "code")
	m.revocations = counter("pkid_revocations_total", "Revocation requests by CA and outcome (revoked, refused, unavailable, error).", "ca", "outcome")
	m.authFailures = counter("pkid_auth_failures_total", "Requests refused for missing or wrong authentication, by endpoint.", "endpoint")
	m.pluginSeconds = histogram("pkid_plugin_rpc_duration_seconds", "Latency of calls from the core to plugin instances, by plugin kind, type and instance.", latencyBuckets, "kind", "type", "instance")
	m.pluginErrors = counter("pkid_plugin_rpc_errors_total", "Failed calls to plugin instances, by kind, type, instance and class (unavailable, other).", "kind", "type", "instance", "class")
	m.batchSize = histogram("pkid_store_batch_size", "Certificates per batched certstore write.", []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}, "store")
	m.commitSeconds = histogram("pkid_store_commit_duration_seconds", "Latency of a batched certstore write (one commit).", latencyBuckets, "store")
	m.ocsp = counter("pkid_ocsp_responses_total", "OCSP requests by result: hit (answered), miss (unknown issuer or serial), error.", "result")
	m.ocspSeconds = histogram("pkid_ocsp_response_duration_seconds", "OCSP answer latency by result.", latencyBuckets, "result")
	m.auditRecords = counter("pkid_audit_records_total", "Audit records written, by kind.", "kind")
	m.auditErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "pkid_audit_errors_total", Help: "Audit records that could not be written (the operation was refused or, after it, reported)."})
	m.reg.MustRegister(m.auditErrors)
	return m
}

// Handler serves the exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Register adds a collector (the daemon's scrape-time gauges). Errors: a
// collector whose metrics are already registered.
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// Unregister removes a collector added with Register.
func (m *Metrics) Unregister(c prometheus.Collector) { m.reg.Unregister(c) }

// Gatherer exposes the registry (tests).
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Request is one finished API request.
type Request struct {
	Endpoint, CA, Profile string
	Status                int
	Duration              time.Duration
	// Lints names the lints that refused the issuance, if any.
	Lints []string
	// AuthFailure: refused for missing or wrong authentication.
	AuthFailure bool
}

// issuanceEndpoints produce certificates.
func isIssuance(endpoint string) bool {
	return endpoint == "sign" || endpoint == "authsign" || endpoint == "newcert" || endpoint == "acme-finalize"
}

// ObserveRequest counts one API request.
func (m *Metrics) ObserveRequest(r Request) {
	if r.Endpoint == "" {
		return // unknown path: no operation to count it under
	}
	m.requests.WithLabelValues(r.Endpoint, r.CA).Inc()
	if r.Status >= 300 {
		m.errored.WithLabelValues(r.Endpoint, r.CA).Inc()
	}
	if r.Status >= 400 && r.Status < 500 {
		m.badInputs.WithLabelValues(r.Endpoint).Inc()
	}
	if r.AuthFailure {
		m.authFailures.WithLabelValues(r.Endpoint).Inc()
	}
	m.httpSeconds.WithLabelValues(r.Endpoint, statusClass(r.Status)).Observe(r.Duration.Seconds())
	outcome := outcomeOf(r.Status)
	switch {
	case isIssuance(r.Endpoint):
		m.issuance.WithLabelValues(r.CA, r.Profile, outcome).Inc()
		m.issuanceSeconds.WithLabelValues(r.CA, r.Profile, outcome).Observe(r.Duration.Seconds())
		for _, name := range r.Lints {
			m.lintRefusals.WithLabelValues(r.CA, r.Profile, name).Inc()
		}
	case r.Endpoint == "revoke" || r.Endpoint == "acme-revoke":
		if outcome == OutcomeIssued {
			outcome = "revoked"
		}
		m.revocations.WithLabelValues(r.CA, outcome).Inc()
	}
}

func outcomeOf(status int) string {
	switch {
	case status < 300:
		return OutcomeIssued
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		return OutcomeUnavailable
	case status < 500:
		return OutcomeRefused
	}
	return OutcomeError
}

func statusClass(status int) string {
	switch {
	case status < 200:
		return "1xx"
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	}
	return "5xx"
}

// PluginCall observes one call to a plugin instance; unavailable says the
// error was the plugin's process being gone or restarting.
func (m *Metrics) PluginCall(kind, typ, instance string, d time.Duration, err error, unavailable bool) {
	m.pluginSeconds.WithLabelValues(kind, typ, instance).Observe(d.Seconds())
	if err != nil {
		class := "other"
		if unavailable {
			class = "unavailable"
		}
		m.pluginErrors.WithLabelValues(kind, typ, instance, class).Inc()
	}
}

// StoreBatch observes one batched certstore write of n records.
func (m *Metrics) StoreBatch(store string, n int, d time.Duration) {
	m.batchSize.WithLabelValues(store).Observe(float64(n))
	m.commitSeconds.WithLabelValues(store).Observe(d.Seconds())
}

// OCSP results.
const (
	OCSPHit   = "hit"
	OCSPMiss  = "miss"
	OCSPError = "error"
)

// OCSP observes one OCSP answer.
func (m *Metrics) OCSP(result string, d time.Duration) {
	m.ocsp.WithLabelValues(result).Inc()
	m.ocspSeconds.WithLabelValues(result).Observe(d.Seconds())
}

// Audit counts one audit record (err nil) or one that failed.
func (m *Metrics) Audit(kind string, err error) {
	if err != nil {
		m.auditErrors.Inc()
		return
	}
	m.auditRecords.WithLabelValues(kind).Inc()
}
