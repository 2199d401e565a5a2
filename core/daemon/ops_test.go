package daemon_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/devtest"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/audit"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/cli"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/devmode"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk/rpc"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// TestMain lets the test binary stand in for pkid when the plugin host
// re-executes it as a builtin plugin (ops_test runs its plugins as real
// processes, to kill one).
func TestMain(m *testing.M) {
	if os.Getenv(rpc.Handshake.MagicCookieKey) == rpc.Handshake.MagicCookieValue {
		os.Exit(cli.Run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// opsConfig is dev mode's configuration with its plugins as processes,
// a metrics listener and an audit log in the state directory.
func opsConfig(t *testing.T) (*catalog.Loaded, *pluginhost.Host, string) {
	t.Helper()
	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit", "audit.log")
	loaded, host, _ := devtest.Load(t, devtest.Options{Dir: dir, OutOfProcess: true,
		Pkid: "  metrics_listen = \"127.0.0.1:0\"\n  audit_log = \"" + auditLog + "\"\n  audit_checkpoint_interval = \"1s\"\n"})
	return loaded, host, auditLog
}

// startOpsDaemon is startDaemon with the plugin host (for the plugin
// gauges).
func startOpsDaemon(t *testing.T, loaded *catalog.Loaded, host *pluginhost.Host) (d *daemon.Daemon, stop func(), wait func() error) {
	t.Helper()
	d, err := daemon.New(context.Background(), loaded, daemon.Options{
		Listen: "127.0.0.1:0", Host: host,
		Log: hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Warn}),
		Bootstrap: func(ctx context.Context, base string) error {
			return devmode.Bootstrap(ctx, loaded, base, io.Discard)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var runErr error
	wait = func() error {
		once.Do(func() {
			select {
			case runErr = <-done:
			case <-time.After(60 * time.Second):
				runErr = errors.New("Run did not return")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		cancel()
		_ = wait()
		d.Close()
	})
	return d, cancel, wait
}

// scrape returns the metric families at url, after checking the
// exposition with promtool.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	promtoolCheck(t, body)
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the exposition: %v", err)
	}
	return fams
}

// promtoolCheck runs `promtool check metrics` (Debian's prometheus
// package) on an exposition. Missing promtool skips, except under CI.
func promtoolCheck(t *testing.T, body []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not installed (apt-get install prometheus; scripts/test.sh does)")
		}
		t.Log("promtool not installed: exposition not linted")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// value is the sum of the samples of family name whose labels include
// want (label=value pairs).
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	total := 0.0
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

// A daemon with metrics_listen and audit_log: issuing, revoking, a bad
// token and killing a plugin process move their counters, the exposition
// passes promtool, and the audit log holds one verified record of each.
func TestMetricsAndAuditAfterIssueRevokeKill(t *testing.T) {
	loaded, host, auditLog := opsConfig(t)
	d, stop, wait := startOpsDaemon(t, loaded, host)
	if d.MetricsAddr() == nil {
		t.Fatal("no metrics listener")
	}
	metricsURL := "http://" + d.MetricsAddr().String() + "/metrics"
	api := d.URL() + "/api/v1/cfssl/"
	label := devmode.IssuingLabel
	before := scrape(t, metricsURL)

	code, env := post(t, api+"sign", signRequest(t, "metrics.example.com"))
	if code != http.StatusOK {
		t.Fatalf("sign: %d %+v", code, env)
	}
	leaf := parseSigned(t, env)
	if code, env = post(t, api+"sign", map[string]string{"certificate_request": "garbage", "profile": "server"}); code != http.StatusBadRequest {
		t.Fatalf("bad sign: %d %+v", code, env)
	}
	code, env = post(t, api+"revoke", map[string]string{"serial": leaf.SerialNumber.String(),
		"authority_key_id": hex.EncodeToString(leaf.AuthorityKeyId), "reason": "superseded"})
	if code != http.StatusOK {
		t.Fatalf("revoke: %d %+v", code, env)
	}
	// A token wrapper although no key is configured: an authentication failure.
	inner, _ := json.Marshal(signRequest(t, "token.example.com"))
	if code, env = post(t, api+"sign", map[string]string{"token": "AAAA", "request": base64.StdEncoding.EncodeToString(inner)}); code != http.StatusBadRequest {
		t.Fatalf("bad token: %d %+v", code, env)
	}
	ocspStatus(t, leaf.OCSPServer[0], leaf, d.Set().CAs[label].Certificate())
	get(t, leaf.CRLDistributionPoints[0]) // waits for the CRL with the revocation

	var store *pluginhost.Process
	for _, p := range host.Processes() {
		if p.Spec().Kind == "certstore" {
			store = p
		}
	}
	if store == nil {
		t.Fatal("no certstore process")
	}
	restarts := store.Restarts()
	if err := store.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for store.Restarts() == restarts || store.Check(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the certstore process was not restarted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	after := scrape(t, metricsURL)

	for _, c := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"pkid_issuance_total", []string{"ca", label, "profile", "server", "outcome", "issued"}, 1},
		{"pkid_issuance_total", []string{"ca", label, "profile", "server", "outcome", "refused"}, 1},
		{"pkid_issuance_duration_seconds", []string{"ca", label, "outcome", "issued"}, 1},
		{"requests_total", []string{"operation", "sign", "signer", label}, 2},
		{"requests_total", []string{"operation", "revoke"}, 1},
		{"requests_errored_total", []string{"operation", "sign", "signer", label}, 1},
		{"bad_inputs_total", []string{"operation", "sign"}, 2},
		{"pkid_revocations_total", []string{"ca", label, "outcome", "revoked"}, 1},
		{"pkid_auth_failures_total", []string{"endpoint", "sign"}, 1},
		{"pkid_plugin_rpc_duration_seconds", []string{"kind", "certstore", "type", "sqlite"}, 2},
		{"pkid_plugin_rpc_duration_seconds", []string{"kind", "keystore", "type", "file"}, 1},
		{"pkid_plugin_restarts_total", []string{"kind", "certstore", "type", "sqlite"}, 1},
		{"pkid_ocsp_responses_total", []string{"result", "hit"}, 1},
		{"pkid_audit_records_total", []string{"kind", "issuance"}, 1},
		{"pkid_audit_records_total", []string{"kind", "revocation"}, 1},
		{"pkid_audit_records_total", []string{"kind", "auth_failure"}, 1},
	} {
		if got := value(after, c.name, c.labels...) - value(before, c.name, c.labels...); got < c.min {
			t.Errorf("%s%v moved by %v, want at least %v", c.name, c.labels, got, c.min)
		}
	}
	if v := value(after, "pkid_plugin_up", "kind", "certstore"); v != 1 {
		t.Errorf("pkid_plugin_up{certstore} = %v after the restart, want 1", v)
	}
	if v := value(after, "pkid_jobs_leader"); v != 1 {
		t.Errorf("pkid_jobs_leader = %v on a single node, want 1", v)
	}
	if v := value(after, "pkid_certificates_expiring", "ca", label, "within", "30d"); v < 0 {
		t.Errorf("pkid_certificates_expiring missing")
	}
	if after["pkid_crl_size_bytes"] == nil || value(after, "pkid_crl_entries", "ca", label, "kind", "full") < 1 {
		t.Errorf("CRL gauges: size %v, entries %v", after["pkid_crl_size_bytes"] != nil, value(after, "pkid_crl_entries", "ca", label, "kind", "full"))
	}

	// Stop: the last checkpoint covers everything.
	stop()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	pub, err := audit.ReadPublicKey(auditLog + ".key.pub")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := audit.Verify(context.Background(), f, audit.VerifyOptions{Key: pub})
	if err != nil || rep.Tampered() || rep.Tail != 0 || rep.Checkpoints == 0 {
		t.Fatalf("audit log after shutdown: %v %+v", err, rep)
	}
	f.Seek(0, 0)
	b, _ := io.ReadAll(f)
	for _, want := range []string{`"kind":"config"`, `"kind":"issuance"`, `"serial":"` + leaf.SerialNumber.String() + `"`, `"kind":"revocation"`, `"kind":"auth_failure"`, `"kind":"checkpoint"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("audit log lacks %s:\n%s", want, b)
		}
	}
}

// The audit log fails closed: when a record cannot be written, the
// certificate is not returned (503), and the failure is counted.
func TestAuditFailsClosed(t *testing.T) {
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	d, _, _ := startDaemon(t, devConfig(t, "  audit_log = \""+auditLog+"\"\n"))
	api := d.URL() + "/api/v1/cfssl/"
	if code, env := post(t, api+"sign", signRequest(t, "ok.example.com")); code != http.StatusOK {
		t.Fatalf("sign: %d %+v", code, env)
	}
	// Damage the last record: the writer refuses to extend the chain.
	b, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"subject":"CN=ok.example.com"`), []byte(`"subject":"CN=ok.example.org"`), 1)
	if err := os.WriteFile(auditLog, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, env := post(t, api+"sign", signRequest(t, "refused.example.com"))
	if code != http.StatusServiceUnavailable || len(env.Errors) == 0 || !strings.Contains(env.Errors[0].Message, "audit log is unavailable") {
		t.Fatalf("sign with a damaged audit log: %d %+v", code, env)
	}
	if bytes.Contains(mustRead(t, auditLog), []byte("refused.example.com")) {
		t.Fatal("the refused issuance reached the audit log")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Mistaken settings fail at start with a clear error; the metrics
// listener serves nothing but /metrics.
func TestOpsSettings(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, attrs, listen, want string
	}{
		{"bad metrics_listen", "  metrics_listen = \"127.0.0.1:99999\"\n", "", "metrics listener"},
		{"bad -metrics-listen", "", "nonsense", "metrics listener"},
		{"audit_log is a directory", "  audit_log = \"" + dir + "\"\n", "", "audit"},
		{"unreadable checkpoint key", "  audit_log = \"" + filepath.Join(dir, "a.log") + "\"\n  audit_checkpoint_key = \"" + dir + "\"\n", "", "checkpoint key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The settings are checked before any CA is built: a pkid
			// block alone is enough.
			path := filepath.Join(t.TempDir(), "pkid.hcl")
			os.WriteFile(path, []byte("pkid {\n"+tc.attrs+"}\n"), 0o600)
			cfg, diags := config.Load(path)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			bootstrapped := false
			_, err := daemon.New(context.Background(), &catalog.Loaded{Config: cfg}, daemon.Options{Listen: "127.0.0.1:0", MetricsListen: tc.listen,
				Bootstrap: func(context.Context, string) error { bootstrapped = true; return nil }})
			if bootstrapped {
				t.Error("the CAs were bootstrapped before the settings were checked")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("New = %v, want a one-line error about %s", err, tc.want)
			}
		})
	}
	path := filepath.Join(dir, "p.hcl")
	os.WriteFile(path, []byte("pkid {\n  audit_checkpoint_interval = \"10ms\"\n}\n"), 0o600)
	if _, diags := config.Load(path); !diags.HasErrors() || !strings.Contains(diags.Error(), "at least 1s") {
		t.Fatalf("a 10ms checkpoint interval: %v", diags)
	}

	d, _, _ := startDaemon(t, devConfig(t, "  metrics_listen = \"127.0.0.1:0\"\n"))
	base := "http://" + d.MetricsAddr().String()
	for path, want := range map[string]int{"/metrics": 200, "/": 404, "/api/v1/cfssl/info": 404, "/metrics/../debug": 404} {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s on the metrics listener: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// A daemon that fails after opening its metrics listener releases it.
func TestMetricsListenerReleasedOnFailure(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	path := filepath.Join(t.TempDir(), "pkid.hcl")
	os.WriteFile(path, []byte("pkid {\n  metrics_listen = \""+addr+"\"\n}\n"), 0o600)
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	// No ca block: New fails after the metrics listener is open.
	if _, err := daemon.New(context.Background(), &catalog.Loaded{Config: cfg}, daemon.Options{Listen: "127.0.0.1:0"}); err == nil {
		t.Fatal("a configuration without a ca block built a daemon")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the metrics address is still held after New failed: %v", err)
	}
	ln.Close()
}
