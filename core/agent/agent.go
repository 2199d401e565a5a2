package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/transport"
)

// Options are what the configuration file does not say.
type Options struct {
	// Log receives one line per renewal, write and reload; nil discards.
	Log hclog.Logger
	// RevocationHTTP fetches OCSP for stapling; nil: a default client.
	RevocationHTTP *http.Client
}

// Agent keeps the certificates of a configuration renewed.
type Agent struct {
	cfg   *Config
	log   hclog.Logger
	certs []*managed
	ln    net.Listener
}

// managed is one certificate block at run time.
type managed struct {
	spec     CertBlock
	owner    owner
	keyMode  os.FileMode
	certMode os.FileMode
	tr       *transport.Transport
	log      hclog.Logger

	mu             sync.Mutex
	writes         int
	writeFailures  int
	reloads        int
	reloadFailures int
	lastReloadErr  string
}

// New prepares every certificate: files that are still good (a matching
// pair valid for more than a tenth of its life) are kept, else a new
// certificate is obtained and written (and the reload action run). It
// also opens the status listener. Errors: a certificate that cannot be
// obtained, an owner that does not exist, the listener.
func New(ctx context.Context, cfg *Config, opts Options) (*Agent, error) {
	a := &Agent{cfg: cfg, log: opts.Log}
	if a.log == nil {
		a.log = hclog.NewNullLogger()
	}
	key, err := cfg.Agent.authKey()
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	var roots *x509.CertPool
	if cfg.Agent.CA.RootCA != "" {
		b, err := os.ReadFile(cfg.Agent.CA.RootCA)
		if err != nil {
			return nil, fmt.Errorf("agent: ca root_ca: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("agent: ca root_ca %s: no PEM certificate", cfg.Agent.CA.RootCA)
		}
	}
	minB, _ := time.ParseDuration(cfg.Agent.MinBackoff)
	maxB, _ := time.ParseDuration(cfg.Agent.MaxBackoff)
	for _, cb := range cfg.Certificates {
		m := &managed{spec: cb, log: a.log.Named(cb.Name)}
		if m.owner, err = resolveOwner(cb.Owner, cb.Group); err != nil {
			return nil, fmt.Errorf("agent: certificate %q: %w", cb.Name, err)
		}
		m.keyMode, _ = parseMode(cb.KeyMode, 0o600)
		m.certMode, _ = parseMode(cb.CertMode, 0o644)
		removeTemps([]string{cb.CertFile, cb.KeyFile, cb.ChainFile, cb.BundleFile})
		kr, _ := cb.keyRequest()
		label, profile := cfg.Agent.CA.Label, cfg.Agent.CA.Profile
		if cb.Label != "" {
			label = cb.Label
		}
		if cb.Profile != "" {
			profile = cb.Profile
		}
		tc := transport.Config{
			CA:       transport.CA{URL: cfg.Agent.CA.URL, RootCAs: roots, Label: label, Profile: profile, AuthKey: key},
			Identity: transport.Identity{CN: cb.CN, Hosts: cb.Hosts, Key: kr},
			RenewAt:  cfg.Agent.RenewAt, Jitter: cfg.Agent.Jitter, MinBackoff: minB, MaxBackoff: maxB,
			Revocation: transport.RevocationConfig{HTTPClient: opts.RevocationHTTP},
			OnRenew:    m.install,
			Initial:    m.readExisting(),
		}
		if m.tr, err = transport.New(ctx, tc); err != nil {
			return nil, fmt.Errorf("agent: certificate %q: %w", cb.Name, err)
		}
		a.certs = append(a.certs, m)
	}
	if cfg.Agent.Listen != "" {
		if a.ln, err = net.Listen("tcp", cfg.Agent.Listen); err != nil {
			return nil, fmt.Errorf("agent: status listener: %w", err)
		}
	}
	return a, nil
}

// Addr is the status listener's address, or nil.
func (a *Agent) Addr() net.Addr {
	if a.ln == nil {
		return nil
	}
	return a.ln.Addr()
}

// Run renews until ctx ends, serving the status endpoint; it returns nil
// after ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, m := range a.certs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = m.tr.Run(ctx)
		}()
	}
	if a.ln != nil {
		hs := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.Serve(a.ln) }()
		defer hs.Close()
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// install writes a new certificate's files, then runs the reload action.
// A failed write fails the renewal (retried with backoff); a failed
// reload is reported but the files stay.
func (m *managed) install(c *tls.Certificate) error {
	files, err := m.pemFiles(c)
	if err == nil {
		err = writeSet(files, m.owner)
	}
	m.mu.Lock()
	if err != nil {
		m.writeFailures++
		m.mu.Unlock()
		m.log.Error("writing the certificate files", "error", err)
		return err
	}
	m.writes++
	m.mu.Unlock()
	m.log.Info("certificate written", "serial", c.Leaf.SerialNumber.String(), "not_after", c.Leaf.NotAfter)
	if m.spec.Reload != nil {
		rerr := m.reload()
		m.mu.Lock()
		m.reloads++
		if rerr != nil {
			m.reloadFailures++
			m.lastReloadErr = rerr.Error()
		} else {
			m.lastReloadErr = ""
		}
		m.mu.Unlock()
		if rerr != nil {
			m.log.Error("reload", "error", rerr)
		}
	}
	return nil
}

// reload runs the reload action once.
func (m *managed) reload() error {
	r := m.spec.Reload
	timeout := 30 * time.Second
	if r.Timeout != "" {
		timeout, _ = time.ParseDuration(r.Timeout)
	}
	switch {
	case len(r.Command) > 0:
		return runCommand(timeout, r.Command...)
	case r.SystemdUnit != "":
		return runCommand(timeout, "systemctl", "reload", r.SystemdUnit)
	default:
		sig, _ := parseSignal(r.Signal)
		b, err := os.ReadFile(r.PIDFile)
		if err != nil {
			return fmt.Errorf("pid file: %w", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			return fmt.Errorf("pid file %s: no process id in it", r.PIDFile)
		}
		if err := syscall.Kill(pid, sig); err != nil {
			return fmt.Errorf("signal %s to %d: %w", r.Signal, pid, err)
		}
		return nil
	}
}

func runCommand(timeout time.Duration, argv ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 512 {
			msg = msg[:512] + "..."
		}
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, msg)
	}
	return nil
}

// CertStatus is one certificate's line of the status endpoint.
type CertStatus struct {
	Name string `json:"name"`
	transport.Health
	Serial         string `json:"serial"`
	Writes         int    `json:"writes"`
	WriteFailures  int    `json:"write_failures"`
	Reloads        int    `json:"reloads"`
	ReloadFailures int    `json:"reload_failures"`
	LastReloadErr  string `json:"last_reload_error,omitempty"`
}

// Status reports every certificate, sorted by name.
func (a *Agent) Status() []CertStatus {
	var out []CertStatus
	for _, m := range a.certs {
		m.mu.Lock()
		s := CertStatus{Name: m.spec.Name, Health: m.tr.Health(), Serial: m.tr.Certificate().Leaf.SerialNumber.String(),
			Writes: m.writes, WriteFailures: m.writeFailures, Reloads: m.reloads, ReloadFailures: m.reloadFailures, LastReloadErr: m.lastReloadErr}
		m.mu.Unlock()
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Handler serves GET /status (JSON; 503 when a certificate expired) and
// GET /metrics (Prometheus text format).
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st := a.Status()
		w.Header().Set("Content-Type", "application/json")
		for _, s := range st {
			if s.State == "expired" {
				w.WriteHeader(http.StatusServiceUnavailable)
				break
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"certificates": st})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(a.metrics()))
	})
	return mux
}

// metrics renders Status in the Prometheus text format.
func (a *Agent) metrics() string {
	st := a.Status()
	var b strings.Builder
	metric := func(name, typ, help string, val func(CertStatus) float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range st {
			fmt.Fprintf(&b, "%s{certificate=%q} %s\n", name, s.Name, strconv.FormatFloat(val(s), 'f', -1, 64))
		}
	}
	metric("pkid_agent_certificate_not_after_seconds", "gauge", "Expiry of the certificate in use (Unix seconds).",
		func(s CertStatus) float64 { return float64(s.NotAfter.Unix()) })
	metric("pkid_agent_next_renewal_seconds", "gauge", "When the next renewal is due (Unix seconds).",
		func(s CertStatus) float64 { return float64(s.NextRenewal.Unix()) })
	metric("pkid_agent_renewals_total", "counter", "Certificates renewed.", func(s CertStatus) float64 { return float64(s.Renewals) })
	metric("pkid_agent_renewal_failures", "gauge", "Renewal failures since the last success.", func(s CertStatus) float64 { return float64(s.Failures) })
	metric("pkid_agent_writes_total", "counter", "Certificate file sets written.", func(s CertStatus) float64 { return float64(s.Writes) })
	metric("pkid_agent_reloads_total", "counter", "Reload actions run.", func(s CertStatus) float64 { return float64(s.Reloads) })
	metric("pkid_agent_reload_failures_total", "counter", "Reload actions that failed.", func(s CertStatus) float64 { return float64(s.ReloadFailures) })
	metric("pkid_agent_healthy", "gauge", "1 while the certificate is valid and renewing.", func(s CertStatus) float64 {
		if s.State == "ok" {
			return 1
		}
		return 0
	})
	return b.String()
}

// errNoCert is returned by helpers when a certificate block is unknown.
var errNoCert = errors.New("agent: no such certificate")

// RenewNow forces a renewal of the named certificate (tests, operators).
func (a *Agent) RenewNow(ctx context.Context, name string) error {
	for _, m := range a.certs {
		if m.spec.Name == name {
			return m.tr.RenewNow(ctx)
		}
	}
	return errNoCert
}
