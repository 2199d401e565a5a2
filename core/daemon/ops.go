package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/pkid/pkid/core/audit"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/jobs"
	"github.com/pkid/pkid/core/metrics"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/core/revocation"
	"github.com/pkid/pkid/core/server"
	"github.com/pkid/pkid/core/server/responder"
	"github.com/pkid/pkid/core/ui"
	"github.com/pkid/pkid/sdk"
)

// ops is the daemon's operations side: the metrics listener and the audit
// log. It is the API server's Observer.
type ops struct {
	m    *metrics.Metrics
	log  hclog.Logger
	coll *metrics.Collector

	ln  net.Listener // metrics; nil: none
	hs  *http.Server
	wg  sync.WaitGroup
	end context.CancelFunc

	audit audit.CheckpointSink // nil: no audit log
	every time.Duration
	authLimit
}

// newOps opens the metrics listener and the audit log of the pkid block
// (metricsListen, when set, replaces metrics_listen) and records the
// configuration load. Errors: listening, the audit log or its key.
func newOps(loaded *catalog.Loaded, metricsListen string, log hclog.Logger) (_ *ops, err error) {
	pk := loaded.Config.Pkid.Ops
	o := &ops{m: metrics.Default, log: log.Named("ops"), every: pk.AuditCheckpointInterval}
	defer func() {
		if err != nil {
			o.close()
		}
	}()
	if metricsListen == "" {
		metricsListen = pk.MetricsListen
	}
	if metricsListen != "" {
		if o.ln, err = net.Listen("tcp", metricsListen); err != nil {
			return nil, fmt.Errorf("serve: metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", o.m.Handler())
		o.hs = newHTTPServer(mux, o.log)
	}
	if pk.AuditLog != "" || pk.AuditCertStore != "" {
		keyPath := pk.AuditCheckpointKey
		if keyPath == "" {
			keyPath = pk.AuditLog + ".key"
		}
		key, err := audit.LoadOrCreateKey(keyPath)
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		if o.audit, err = openSink(loaded, audit.Options{CheckpointKey: key}); err != nil {
			return nil, err
		}
		if o.every <= 0 {
			o.every = config.DefaultAuditCheckpointInterval
		}
		if err := o.record(context.Background(), audit.KindConfig, configRecord(loaded)); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
	}
	return o, nil
}

// openSink opens the audit sink the pkid block names: the audit_log file,
// or the chain in the audit_certstore (DefaultChain). Errors: the file
// cannot be opened; *DiagnosticsError for a certstore that is not
// declared or keeps no documents.
func openSink(loaded *catalog.Loaded, opts audit.Options) (audit.CheckpointSink, error) {
	pk := loaded.Config.Pkid.Ops
	if pk.AuditCertStore == "" {
		l, err := audit.Open(pk.AuditLog, opts)
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		return l, nil
	}
	diag := func(summary, detail string) error {
		return &DiagnosticsError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: pk.AuditCertStoreRange.Ptr()}}}
	}
	cs, ok := loaded.CertStores[pk.AuditCertStore]
	if !ok {
		return nil, diag("Unknown certstore", fmt.Sprintf("audit_certstore names %q, which no certstore block declares.", pk.AuditCertStore))
	}
	ds, ok := cs.(sdk.DocStore)
	if !ok {
		return nil, diag("Certstore keeps no documents", fmt.Sprintf("audit_certstore %q: its plugin does not keep documents (sdk.DocStore), so it cannot hold the audit chain; use a store that does (sqlite, postgres) or audit_log.", pk.AuditCertStore))
	}
	return audit.OpenDocs(ds, audit.DefaultChain, opts)
}

// MetricsAddr is the metrics listener's address, or nil without one.
func (d *Daemon) MetricsAddr() net.Addr {
	if d.ops == nil || d.ops.ln == nil {
		return nil
	}
	return d.ops.ln.Addr()
}

// configLoad is the audit record of a configuration load.
type configLoad struct {
	Files []fileSum `json:"files"`
	CAs   []string  `json:"cas"`
	Pid   int       `json:"pid"`
}

type fileSum struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

func configRecord(l *catalog.Loaded) configLoad {
	rec := configLoad{Pid: os.Getpid(), Files: []fileSum{}}
	for name := range l.Config.Files {
		sum := ""
		if b, err := os.ReadFile(name); err == nil {
			s := sha256.Sum256(b)
			sum = hex.EncodeToString(s[:])
		}
		if abs, err := filepath.Abs(name); err == nil {
			name = abs
		}
		rec.Files = append(rec.Files, fileSum{Path: name, SHA256: sum})
	}
	sort.Slice(rec.Files, func(i, j int) bool { return rec.Files[i].Path < rec.Files[j].Path })
	for _, c := range l.Config.CAs {
		rec.CAs = append(rec.CAs, c.Name)
	}
	return rec
}

// collect registers the scrape-time gauges for the built daemon.
func (o *ops) collect(host *pluginhost.Host, set *authority.Set, runner *jobs.Runner, crlDir string) {
	src := metrics.Source{Leader: runner.IsLeader, CRLs: crlStates(set, crlDir)}
	if host != nil {
		src.Plugins = func(ctx context.Context) []metrics.PluginState {
			var out []metrics.PluginState
			for _, p := range host.Processes() {
				out = append(out, metrics.PluginState{Kind: p.Spec().Kind, Type: p.Spec().Type, Restarts: p.Restarts(), Healthy: p.Check(ctx) == nil})
			}
			return out
		}
	}
	src.Expiring = func(ctx context.Context, within time.Duration) (map[string]int, error) {
		return countExpiring(ctx, set, within)
	}
	o.coll = metrics.NewCollector(src)
	if err := o.m.Register(o.coll); err != nil {
		// A second daemon in one process (tests): the first one's gauges stay.
		o.log.Warn("daemon gauges not registered", "error", err)
		o.coll = nil
	}
}

// countExpiring counts each CA's good certificates expiring within d.
func countExpiring(ctx context.Context, set *authority.Set, within time.Duration) (map[string]int, error) {
	now := time.Now()
	out := map[string]int{}
	for _, label := range set.Labels() {
		st := set.CAs[label].Store()
		if st == nil {
			continue
		}
		n := 0
		err := st.List(ctx, sdk.ListFilter{IssuerLabel: label, Status: sdk.StatusGood, ExpiresAfter: now, ExpiresBefore: now.Add(within)},
			func(*sdk.CertRecord) error { n++; return nil })
		if err != nil {
			return nil, err
		}
		out[label] = n
	}
	return out, nil
}

// crlStates reads the metadata the revocation service writes beside each
// CRL.
func crlStates(set *authority.Set, dir string) func() []metrics.CRLState {
	return func() []metrics.CRLState {
		var out []metrics.CRLState
		for _, label := range set.Labels() {
			for kind, name := range map[string]string{"full": label + ".crl.json", "delta": label + "-delta.crl.json"} {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					continue
				}
				var m revocation.Meta
				if json.Unmarshal(b, &m) != nil {
					continue
				}
				out = append(out, metrics.CRLState{CA: label, Kind: kind, ThisUpdate: m.ThisUpdate, NextUpdate: m.NextUpdate, Bytes: int(m.Bytes), Entries: int(m.Entries)})
			}
		}
		return out
	}
}

// start serves the metrics listener and runs the audit checkpoints until
// close.
func (o *ops) start() {
	ctx, cancel := context.WithCancel(context.Background())
	o.end = cancel
	if o.hs != nil {
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			if err := o.hs.Serve(o.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				o.log.Error("metrics listener", "error", err)
			}
		}()
	}
	if o.audit != nil {
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			o.audit.RunCheckpoints(ctx, o.every, func(err error) { o.log.Error("audit checkpoint", "error", err) })
		}()
	}
}

// close stops the listener, writes a last checkpoint and closes the log.
func (o *ops) close() {
	if o == nil {
		return
	}
	if o.end != nil {
		o.end()
	}
	if o.hs != nil {
		_ = o.hs.Close()
	}
	if o.ln != nil {
		_ = o.ln.Close() // not served yet when Run never ran
	}
	o.wg.Wait()
	if o.coll != nil {
		o.m.Unregister(o.coll)
		o.coll = nil
	}
	if o.audit != nil {
		_ = o.audit.Close()
	}
}

// record appends one audit record and counts it.
func (o *ops) record(ctx context.Context, kind string, data any) error {
	err := o.audit.Append(ctx, kind, data)
	o.m.Audit(kind, err)
	if err != nil {
		o.log.Error("audit record not written", "kind", kind, "error", err)
	}
	return err
}

func requesterOf(ev *server.Event) audit.Requester {
	return audit.Requester{Endpoint: ev.Endpoint, Client: ev.Client, Remote: ev.Remote, RequestID: ev.RequestID}
}

// Commit implements server.Observer: issuances and revocations are
// recorded before the reply leaves.
func (o *ops) Commit(ctx context.Context, ev *server.Event) error {
	if o.audit == nil {
		return nil
	}
	if c := ev.Issued; c != nil {
		return o.record(ctx, audit.KindIssuance, audit.IssuanceOf(c, ev.Label, ev.Profile, requesterOf(ev)))
	}
	if r := ev.Revoked; r != nil {
		at := r.RevokedAt
		if at.IsZero() {
			at = time.Now().UTC()
		}
		return o.record(ctx, audit.KindRevocation, audit.Revocation{CA: ev.Label, Serial: r.Request.Serial, AKI: r.Request.AKI,
			Reason: r.Request.Reason, Already: r.Already, RevokedAt: at, Requester: requesterOf(ev)})
	}
	return nil
}

// Done implements server.Observer: metrics for every request, and an
// audit record for each authentication failure (rate limited).
func (o *ops) Done(ctx context.Context, ev *server.Event) {
	authFailed := ev.AuthFailure()
	o.m.ObserveRequest(metrics.Request{Endpoint: ev.Endpoint, CA: ev.Label, Profile: ev.Profile, Status: ev.Status,
		Duration: ev.Duration, Lints: ev.LintRefusals(), AuthFailure: authFailed})
	if o.audit == nil || !authFailed {
		return
	}
	suppressed, ok := o.authLimit.allow(time.Now())
	if !ok {
		return
	}
	reason := ev.Err.Error()
	if len(reason) > 256 {
		reason = reason[:256]
	}
	_ = o.record(ctx, audit.KindAuthFailure, audit.AuthFailure{Requester: requesterOf(ev), Reason: reason, Suppressed: suppressed})
}

// uiDone counts a dashboard request (operation "ui") and records a
// refused one as an authentication failure, rate limited like the API's.
func (o *ops) uiDone(ctx context.Context, ev ui.Event) {
	o.m.ObserveRequest(metrics.Request{Endpoint: "ui", Status: ev.Status, Duration: ev.Duration, AuthFailure: ev.Denied != ""})
	if o.audit == nil || ev.Denied == "" {
		return
	}
	suppressed, ok := o.authLimit.allow(time.Now())
	if !ok {
		return
	}
	reason := ev.Denied
	if len(reason) > 256 {
		reason = reason[:256]
	}
	_ = o.record(ctx, audit.KindAuthFailure, audit.AuthFailure{Requester: audit.Requester{Endpoint: "ui", Client: ev.Client, Remote: ev.Remote},
		Reason: reason, Suppressed: suppressed})
}

// authLimit bounds auth-failure records to maxAuthRecords a second: a
// caller hammering with bad tokens must not turn the audit log into a
// disk-filling fsync loop. Suppressed failures are counted in the next
// record (and in pkid_auth_failures_total).
type authLimit struct {
	mu         sync.Mutex
	window     time.Time
	n          int
	suppressed int
}

const maxAuthRecords = 10

func (a *authLimit) allow(now time.Time) (suppressed int, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := now.Truncate(time.Second); !w.Equal(a.window) {
		a.window, a.n = w, 0
	}
	if a.n >= maxAuthRecords {
		a.suppressed++
		return 0, false
	}
	a.n++
	suppressed, a.suppressed = a.suppressed, 0
	return suppressed, true
}

// ocspObserved counts OCSP answers by result.
type ocspObserved struct {
	src responder.Source
	m   *metrics.Metrics
}

func (s ocspObserved) Response(ctx context.Context, req *responder.Request) ([]byte, error) {
	start := time.Now()
	der, err := s.src.Response(ctx, req)
	result := metrics.OCSPHit
	switch {
	case errors.Is(err, responder.ErrNotFound):
		result = metrics.OCSPMiss
	case err != nil:
		result = metrics.OCSPError
	}
	s.m.OCSP(result, time.Since(start))
	return der, err
}
