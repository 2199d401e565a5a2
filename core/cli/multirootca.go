package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkid/pkid/core/ca/profile"
	coredaemon "github.com/pkid/pkid/core/daemon"
)

// maxMultirootBody bounds one multirootca request (CFSSL reads any size).
const maxMultirootBody = 1 << 20

func multirootcaCmd(e *env) *command {
	return &command{
		synopsis: "Serve several CAs from a multirootca roots file (authsign and info only)",
		help: `
Usage: pkid multirootca -roots FILE [-l LABEL] [-a ADDR] [-tls-cert F -tls-key F] [-metrics ADDR] [-loglevel N]

  Runs CFSSL's multirootca: each [label] of the roots file (private =
  file://KEY, certificate, config, nets, dbconfig) is a CA; the keys are
  imported into an ephemeral file keystore (in /dev/shm when available,
  removed on exit). Serves POST /api/v1/cfssl/authsign and
  /api/v1/cfssl/info with multirootca's status codes; -l is the label of
  requests that name none. -metrics serves multirootca's Prometheus
  counters on a listener of its own. pkid config import FILE prints the equivalent
  native configuration.
`,
		run: func(args []string) error {
			fs := newFlags("multirootca")
			addr := fs.String("a", "127.0.0.1:8888", "listening `ADDR`")
			roots := fs.String("roots", "", "roots `FILE`")
			label := fs.String("l", "", "default `LABEL`")
			tlsCert := fs.String("tls-cert", "", "server certificate")
			tlsKey := fs.String("tls-key", "", "server private key")
			loglevel := fs.Int("loglevel", 1, "log level (0 debug … 5 fatal)")
			metricsAddr := fs.String("metrics", "", "serve Prometheus /metrics on this `ADDR` (its own listener; default off)")
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			if *roots == "" {
				return usagef("no roots file specified (-roots)")
			}
			if (*tlsCert == "") != (*tlsKey == "") {
				return usagef("-tls-cert and -tls-key go together")
			}
			data, err := readBounded(*roots, maxRootsFile)
			if err != nil {
				return fmt.Errorf("roots: %w", err)
			}
			rf, err := parseRoots(data)
			if err != nil {
				return fmt.Errorf("%s: %w", *roots, err)
			}
			base, err := filepath.Abs(filepath.Dir(*roots))
			if err != nil {
				return err
			}
			plan, err := rootsPlan(rf, base)
			if err != nil {
				return fmt.Errorf("%s: %w", *roots, err)
			}
			// The daemon inside listens on a loopback port nobody is
			// told about and is never served; requests reach it only
			// through the multirootca handler below.
			plan.Listen = "127.0.0.1:0"
			plan.Disable = nil
			h, err := newMultiroot(plan, *label)
			if err != nil {
				return err
			}
			// The default label's CA goes first: it is the daemon's
			// default, for requests whose signed body names no label.
			for i, c := range plan.CAs {
				if c.Label == *label {
					plan.CAs[0], plan.CAs[i] = plan.CAs[i], plan.CAs[0]
				}
			}
			run, err := startPlan(e, plan, readPrivateKeyPEM(e))
			if err != nil {
				return err
			}
			defer run.Close()
			log := hclog.New(&hclog.LoggerOptions{Name: "multirootca", Output: e.stderr, Level: hclogLevel(*loglevel)})
			d, err := coredaemon.New(context.Background(), run.s.Loaded, coredaemon.Options{Listen: plan.Listen, Host: run.s.host, Log: log})
			if err != nil {
				return daemonError(e, run.s.Config, err)
			}
			defer d.Close()
			h.inner, h.log = d.Handler(), log
			ln, err := net.Listen("tcp", *addr)
			if err != nil {
				return fmt.Errorf("multirootca: %w", err)
			}
			if *tlsCert != "" {
				cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
				if err != nil {
					ln.Close()
					return fmt.Errorf("multirootca: %w", err)
				}
				ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
			}
			if *metricsAddr != "" {
				mln, err := net.Listen("tcp", *metricsAddr)
				if err != nil {
					ln.Close()
					return fmt.Errorf("multirootca: metrics: %w", err)
				}
				mmux := http.NewServeMux()
				mmux.HandleFunc("/metrics", h.metrics.serve)
				ms := &http.Server{Handler: mmux, ReadHeaderTimeout: 10 * time.Second}
				defer ms.Close()
				go ms.Serve(mln)
			}
			mux := http.NewServeMux()
			mux.HandleFunc("/api/v1/cfssl/authsign", h.authsign)
			mux.HandleFunc("/api/v1/cfssl/info", h.info)
			hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
			ctx, stop := signalContext()
			defer stop()
			go func() {
				<-ctx.Done()
				sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
				defer c()
				hs.Shutdown(sctx)
			}()
			log.Info("now listening on " + ln.Addr().String())
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// multiroot is multirootca's front: it applies multirootca's checks, in
// its order and with its status codes, then hands the request to the
// daemon's own handler.
type multiroot struct {
	metrics      multirootMetrics
	defaultLabel string
	labels       map[string]*multirootCA
	inner        http.Handler
	log          hclog.Logger
}

type multirootCA struct {
	nets     []netip.Prefix
	profiles *profile.Config
}

func newMultiroot(plan *compatPlan, defaultLabel string) (*multiroot, error) {
	m := &multiroot{defaultLabel: defaultLabel, labels: map[string]*multirootCA{}}
	for _, c := range plan.CAs {
		sc := c.SigningConfig
		if sc == nil {
			sc = []byte(`{"signing":{}}`)
		}
		p, err := profile.ParseCFSSL(sc)
		if err != nil {
			return nil, fmt.Errorf("root %q: config: %w", c.Label, err)
		}
		m.labels[c.Label] = &multirootCA{nets: c.Nets, profiles: p}
	}
	return m, nil
}

// AuthenticatedRequest and SignRequest mirror CFSSL's types, names
// included, so that JSON decoding errors read as multirootca's do.
type AuthenticatedRequest struct {
	Timestamp     int64  `json:"timestamp"`
	RemoteAddress []byte `json:"remote_address"`
	Token         []byte `json:"token"`
	Request       []byte `json:"request"`
}

type SignRequest struct {
	Hosts       []string               `json:"hosts"`
	Request     string                 `json:"certificate_request"`
	Subject     *json.RawMessage       `json:"subject,omitempty"`
	Profile     string                 `json:"profile"`
	CRLOverride string                 `json:"crl_override"`
	Label       string                 `json:"label"`
	Serial      *big.Int               `json:"serial,omitempty"`
	Extensions  []json.RawMessage      `json:"extensions,omitempty"`
	NotBefore   time.Time              `json:"not_before"`
	NotAfter    time.Time              `json:"not_after"`
	Metadata    map[string]interface{} `json:"metadata"`
}

// fail writes multirootca's error reply; pkid's code is the HTTP status
// (CFSSL sends 1), docs/cfssl-dropin.md.
func (m *multiroot) fail(w http.ResponseWriter, status int, msg, detail string) {
	m.metrics.add(&m.metrics.badInputs, "sign")
	m.writeError(w, status, msg, detail)
}

// writeError is fail without counting (info's refusals, as multirootca).
func (m *multiroot) writeError(w http.ResponseWriter, status int, msg, detail string) {
	if m.log != nil {
		m.log.Warn("request refused", "status", status, "message", msg, "detail", detail)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	type apiError struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	json.NewEncoder(w).Encode(struct {
		Success  bool       `json:"success"`
		Result   any        `json:"result"`
		Errors   []apiError `json:"errors"`
		Messages []apiError `json:"messages"`
	}{Errors: []apiError{{status, msg}}, Messages: []apiError{}})
}

func (m *multiroot) read(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMultirootBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			m.fail(w, http.StatusRequestEntityTooLarge, "request body too large", "")
		} else {
			m.fail(w, http.StatusBadRequest, err.Error(), "while reading request body")
		}
		return nil, false
	}
	return body, true
}

func (m *multiroot) authsign(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		m.fail(w, http.StatusMethodNotAllowed, "only POST is permitted", "")
		return
	}
	body, ok := m.read(w, r)
	if !ok {
		return
	}
	var ar AuthenticatedRequest
	if err := json.Unmarshal(body, &ar); err != nil {
		m.fail(w, http.StatusBadRequest, err.Error(), "while unmarshaling request body")
		return
	}
	var sr SignRequest
	if err := json.Unmarshal(ar.Request, &sr); err != nil {
		m.fail(w, http.StatusBadRequest, err.Error(), "while unmarshalling authenticated request")
		return
	}
	label := sr.Label
	if label == "" {
		label = m.defaultLabel
	}
	ca := m.labels[label]
	if ca != nil && len(ca.nets) > 0 && !permitted(ca.nets, r.RemoteAddr) {
		m.fail(w, http.StatusForbidden, "not authorised", "because IP is not whitelisted")
		return
	}
	if ca == nil {
		m.fail(w, http.StatusBadRequest, "bad request", "request is for non-existent label "+label)
		return
	}
	m.metrics.add(&m.metrics.requests, "sign", label) // as multirootca: once the signer is known
	p := ca.profiles.Default
	if sr.Profile != "" && len(ca.profiles.Profiles) > 0 {
		if p = ca.profiles.Profiles[sr.Profile]; p == nil {
			m.fail(w, http.StatusBadRequest, "invalid profile", "failed to look up profile with name: "+sr.Profile)
			return
		}
	}
	if p.AuthKey == "" {
		m.fail(w, http.StatusUnauthorized, "authorisation required", "received unauthenticated request")
		return
	}
	if !macOK(ca.profiles.AuthKeys[p.AuthKey].Key, ar) && (p.PrevAuthKey == "" || !macOK(ca.profiles.AuthKeys[p.PrevAuthKey].Key, ar)) {
		m.fail(w, http.StatusBadRequest, "invalid token", "received authenticated request with invalid token")
		return
	}
	if sr.Request == "" {
		m.fail(w, http.StatusBadRequest, "invalid request", "empty request")
		return
	}
	rec := m.forward(r, "/api/v1/cfssl/authsign", body)
	if rec.Code != http.StatusOK {
		m.metrics.add(&m.metrics.errored, "sign", label)
		m.fail(w, http.StatusBadRequest, "bad request", "signature failed: "+rec.Body.String())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(rec.Body.Bytes())
}

func (m *multiroot) info(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		m.writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method is not allowed:%q", r.Method), "")
		return
	}
	body, ok := m.read(w, r)
	if !ok {
		return
	}
	var req struct {
		Label   string `json:"label"`
		Profile string `json:"profile"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		m.writeError(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	if req.Label == "" {
		req.Label = m.defaultLabel
	}
	if m.labels[req.Label] == nil {
		m.writeError(w, http.StatusBadRequest, "bad label", "")
		return
	}
	fwd, _ := json.Marshal(req)
	rec := m.forward(r, "/api/v1/cfssl/info", fwd)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// forward runs a request through the daemon's handler in process.
func (m *multiroot) forward(r *http.Request, path string, body []byte) *httptest.ResponseRecorder {
	fr, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, path, bytes.NewReader(body))
	fr.Header.Set("Content-Type", "application/json")
	fr.RemoteAddr = r.RemoteAddr
	rec := httptest.NewRecorder()
	m.inner.ServeHTTP(rec, fr)
	return rec
}

func macOK(key []byte, ar AuthenticatedRequest) bool {
	if len(key) == 0 {
		return false
	}
	h := hmac.New(sha256.New, key)
	h.Write(ar.Request)
	return hmac.Equal(h.Sum(nil), ar.Token)
}

func permitted(nets []netip.Prefix, remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// multirootMetrics are multirootca's counters, by the same names and
// labels: requests_total{operation,signer} (authenticated requests that
// reached a signer), requests_errored_total{operation,signer} (of those,
// the ones that failed) and bad_inputs_total{operation} (refusals).
type multirootMetrics struct {
	mu                           sync.Mutex
	requests, errored, badInputs map[string]uint64
}

func (m *multirootMetrics) add(c *map[string]uint64, labels ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if *c == nil {
		*c = map[string]uint64{}
	}
	(*c)[strings.Join(labels, "\x00")]++
}

func (m *multirootMetrics) serve(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	write := func(name, help string, c map[string]uint64, labelNames ...string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
		for _, k := range sortedKeys(c) {
			vals := strings.Split(k, "\x00")
			var parts []string
			for i, n := range labelNames {
				parts = append(parts, fmt.Sprintf("%s=%q", n, vals[i]))
			}
			fmt.Fprintf(w, "%s{%s} %d\n", name, strings.Join(parts, ","), c[k])
		}
	}
	write("bad_inputs_total", "How many times the input was malformed or not allowed.", m.badInputs, "operation")
	write("requests_errored_total", "How many requests for each operation type resulted in an error.", m.errored, "operation", "signer")
	write("requests_total", "How many requests for each operation type and signer were succesfully processed.", m.requests, "operation", "signer")
}
