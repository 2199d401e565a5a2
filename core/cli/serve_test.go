package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca/csr"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
	"github.com/pkid/pkid/sdk"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// pkidBinary builds cmd/pkid once: the daemon tests run the real binary so
// plugin processes, signals and crashes are real.
func pkidBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pkid-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pkid")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/pkid").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type daemon struct {
	cmd    *exec.Cmd
	base   string
	stdout *bytes.Buffer
	mu     *sync.Mutex
	log    *logBuffer // stderr: the daemon's and its plugins' log
}

// logText returns what the daemon has logged so far.
func (d *daemon) logText() string { return d.log.String() }

// logBuffer collects a process's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var listenRe = regexp.MustCompile(`listening on (https?://127\.0\.0\.1:\d+)`)

// startDev starts `pkid serve -dev` on a free port and waits until it serves.
func startDev(t *testing.T, state string) *daemon {
	t.Helper()
	return startDaemon(t, "serve", "-dev", "-state", state, "-listen", "127.0.0.1:0")
}

// startDaemon runs pkid with args and waits until it listens.
func startDaemon(t testing.TB, args ...string) *daemon {
	t.Helper()
	return startDaemonLog(t, "warn", args...)
}

// startDaemonLog is startDaemon logging at level (d.logText reads it).
func startDaemonLog(t testing.TB, level string, args ...string) *daemon {
	t.Helper()
	return startDaemonBin(t, pkidBinary(t), level, args...)
}

// startDaemonBin is startDaemonLog with another pkid binary (benchmarks
// compare revisions).
func startDaemonBin(t testing.TB, bin, level string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PKID_LOG_LEVEL="+level)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	d := &daemon{cmd: cmd, stdout: &bytes.Buffer{}, mu: &sync.Mutex{}, log: &logBuffer{}}
	cmd.Stderr = d.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		base := ""
		for sc.Scan() {
			d.mu.Lock()
			d.stdout.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				base = m[1]
			}
			// The banner ends with the default CA line: by then the
			// fingerprints have been read too.
			if base != "" && (strings.HasPrefix(sc.Text(), "Default CA:") || strings.Contains(sc.Text(), "OCSP responder listening")) {
				found <- base
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		pw.Close()
	})
	select {
	case d.base = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("daemon did not start: %s", d.logText())
	}
	return d
}

func (d *daemon) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stdout.String()
}

type envelope struct {
	Success bool            `json:"success"`
	Result  json.RawMessage `json:"result"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

func post(base, endpoint string, body any) (*http.Response, envelope, error) {
	b, _ := json.Marshal(body)
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Post(base+"/api/v1/cfssl/"+endpoint, "application/json", bytes.NewReader(b))
	if err != nil {
		return nil, envelope{}, err
	}
	defer resp.Body.Close()
	var env envelope
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &env); err != nil {
		return resp, env, fmt.Errorf("not an envelope: %q", data)
	}
	return resp, env, nil
}

// children lists the command lines of pid's child processes (forked by any
// of its threads).
func certCN(p string) string {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return ""
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return ""
	}
	return c.Subject.CommonName
}

func children(pid int) []string {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var ids []string
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		ids = append(ids, strings.Fields(string(data))...)
	}
	var out []string
	for _, c := range ids {
		cmdline, _ := os.ReadFile("/proc/" + c + "/cmdline")
		out = append(out, strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

func TestServeDev(t *testing.T) {
	state := t.TempDir()
	d := startDev(t, state)

	// Keystore and store run as child processes of the daemon.
	kids := strings.Join(children(d.cmd.Process.Pid), "\n")
	for _, want := range []string{"plugin serve keystore file", "plugin serve certstore sqlite"} {
		if !strings.Contains(kids, want) {
			t.Errorf("no child process %q; children:\n%s", want, kids)
		}
	}
	if !strings.Contains(d.output(), "CA issuing") || !strings.Contains(d.output(), "CA root") {
		t.Errorf("startup output lacks CA fingerprints:\n%s", d.output())
	}
	// ACME on the dev CA's acme profile, its state in the SQLite plugin.
	if want := "ACME (RFC 8555) directory: " + d.base + "/acme/directory"; !strings.Contains(d.output(), want) {
		t.Errorf("startup output lacks %q:\n%s", want, d.output())
	}
	if r, err := http.Head(d.base + "/acme/issuing/acme/new-nonce"); err != nil || r.StatusCode != 200 || r.Header.Get("Replay-Nonce") == "" {
		t.Errorf("ACME newNonce: %v %v", err, r)
	}

	// info, sign through the default (issuing) CA.
	resp, env, err := post(d.base, "info", map[string]string{"label": ""})
	if err != nil || resp.StatusCode != 200 || !env.Success {
		t.Fatalf("info: %v %v %+v", err, resp, env)
	}
	leafReq := &csr.Request{CN: "svc.example.com", Hosts: []string{"svc.example.com"}}
	key, _ := leafReq.KeyRequest.Generate()
	csrPEM, _ := csr.Generate(leafReq, key)
	resp, env, err = post(d.base, "sign", map[string]string{"certificate_request": string(csrPEM), "profile": "server"})
	if err != nil || resp.StatusCode != 200 || !env.Success {
		t.Fatalf("sign: %v %+v", err, env)
	}
	var res struct{ Certificate string }
	json.Unmarshal(env.Result, &res)
	block, _ := pem.Decode([]byte(res.Certificate))
	if block == nil {
		t.Fatalf("sign returned no certificate: %s", env.Result)
	}
	leaf, _ := x509.ParseCertificate(block.Bytes)
	if leaf.Issuer.CommonName != "pkid dev issuing CA" {
		t.Errorf("issuer %q", leaf.Issuer.CommonName)
	}
	// -dev serves the dashboard to loopback clients and says where; it
	// shows the new certificate (plugin-process store).
	if !strings.Contains(d.output(), "Dashboard (loopback clients only): "+d.base+"/ui/") {
		t.Errorf("startup output lacks the dashboard URL:\n%s", d.output())
	}
	if page := string(httpGet(t, d.base+"/ui/search?q="+leaf.SerialNumber.String())); !strings.Contains(page, "CN=svc.example.com") {
		t.Errorf("the dashboard does not find the new certificate:\n%.500s", page)
	}
	overview := string(httpGet(t, d.base+"/ui/"))
	for _, p := range []string{"plugin.keystore.file", "plugin.certstore.sqlite"} {
		if !regexp.MustCompile(`<td class="mono">` + regexp.QuoteMeta(p) + `</td><td class="ok">ok</td>`).MatchString(overview) {
			t.Errorf("the dashboard does not show %s healthy", p)
		}
	}

	// info by label: the root.
	_, env, err = post(d.base, "info", map[string]string{"label": "root"})
	var info struct{ Certificate string }
	if json.Unmarshal(env.Result, &info); err != nil || !env.Success || !strings.Contains(certCN(info.Certificate), "root") {
		t.Errorf("info root: %v %+v", err, env)
	}
	// newcert: the key is generated server-side (CFSSL behaviour) and the
	// certificate recorded.
	resp, env, err = post(d.base, "newcert", map[string]any{"request": map[string]any{"CN": "new.example.com", "hosts": []string{"new.example.com"}}, "profile": "server"})
	var nc struct {
		Certificate string `json:"certificate"`
		PrivateKey  string `json:"private_key"`
	}
	if json.Unmarshal(env.Result, &nc); err != nil || resp.StatusCode != 200 || !env.Success || certCN(nc.Certificate) != "new.example.com" {
		t.Errorf("newcert: %v %+v", err, env)
	}
	// certinfo by serial and AKI from the store.
	_, env, err = post(d.base, "certinfo", map[string]string{"serial": leaf.SerialNumber.String(), "authority_key_id": fmt.Sprintf("%X", leaf.AuthorityKeyId)})
	if err != nil || !env.Success || !strings.Contains(string(env.Result), leaf.SerialNumber.String()) {
		t.Errorf("certinfo by serial: %v %+v", err, env)
	}

	// Graceful stop on SIGTERM, then a restart reuses the CAs.
	firstFingerprints := regexp.MustCompile(`CA \S+\s+[0-9A-F]{64}`).FindAllString(d.output(), -1)
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not stop on SIGTERM")
	}
	d2 := startDev(t, state)
	again := regexp.MustCompile(`CA \S+\s+[0-9A-F]{64}`).FindAllString(d2.output(), -1)
	if strings.Join(again, ",") != strings.Join(firstFingerprints, ",") || len(again) != 2 {
		t.Errorf("CAs changed across restarts: %v → %v", firstFingerprints, again)
	}
}

// Kill -9 of the daemon under concurrent load, then restart: every
// certificate any client received is in the store.
func TestKillDaemonUnderLoad(t *testing.T) {
	state := t.TempDir()
	d := startDev(t, state)
	leafReq := &csr.Request{CN: "load.example.com", Hosts: []string{"load.example.com"}}
	key, _ := leafReq.KeyRequest.Generate()
	csrPEM, _ := csr.Generate(leafReq, key)

	var (
		mu       sync.Mutex
		received []string
		wg       sync.WaitGroup
		stop     atomic.Bool
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 2000 && !stop.Load(); n++ {
				resp, env, err := post(d.base, "sign", map[string]string{"certificate_request": string(csrPEM), "profile": "server"})
				if err != nil || resp.StatusCode != 200 {
					return
				}
				var res struct{ Certificate string }
				json.Unmarshal(env.Result, &res)
				block, _ := pem.Decode([]byte(res.Certificate))
				c, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				received = append(received, c.SerialNumber.String())
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	mu.Lock()
	before := len(received)
	mu.Unlock()
	if before == 0 {
		t.Fatal("no certificate issued before the kill")
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.cmd.Wait()
	stop.Store(true)
	wg.Wait()

	// The daemon restarts on the crashed state and serves again.
	d2 := startDev(t, state)
	if resp, env, err := post(d2.base, "info", map[string]string{}); err != nil || resp.StatusCode != 200 || !env.Success {
		t.Fatalf("info after restart: %v %+v", err, env)
	}
	store, err := storesqlite.Open(context.Background(), storesqlite.Options{Path: filepath.Join(state, "pkid.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stored := map[string]bool{}
	store.List(context.Background(), sdk.ListFilter{IssuerLabel: "issuing"}, func(r *sdk.CertRecord) error {
		stored[r.Serial] = true
		return nil
	})
	missing := 0
	for _, s := range received {
		if !stored[s] {
			missing++
		}
	}
	t.Logf("received %d certificates before the kill; %d in the store", len(received), len(stored))
	if missing > 0 {
		t.Fatalf("%d of %d certificates a client received are not in the store", missing, len(received))
	}
}

// A configured daemon: TLS and an auth key from the pkid block; plain sign
// is refused once auth is configured (docs/differences-from-cfssl.md,
// "Authentication applies everywhere"); authsign through pkid's client
// with a pinned CA works; errors come back as envelopes.
func TestServeConfigAuthTLS(t *testing.T) {
	openssl := opensslPath(t)
	cfg, dir := configuredCA(t)
	// Make the issuing profile authenticated and add TLS + the key.
	tlsOut := decodeResult(t, pkid(t, "selfsign", "127.0.0.1", writeFile(t, dir, "tls.json", `{"CN": "127.0.0.1"}`)))
	tlsCert := writeFile(t, dir, "tls.pem", tlsOut["cert"])
	tlsKey := writeFile(t, dir, "tls-key.pem", tlsOut["key"])
	const hexKey = "0123456789abcdef0123456789abcdef"
	body, _ := os.ReadFile(cfg)
	conf := strings.Replace(string(body), `    expiry = "90d"`, `    expiry = "90d"
    auth_key = "k"`, 1) + `
pkid {
  listen = "127.0.0.1:0"
  tls {
    cert = "` + tlsCert + `"
    key  = "` + tlsKey + `"
  }
  auth_key "k" {
    key = "` + hexKey + `"
  }
}
`
	os.WriteFile(cfg, []byte(conf), 0o600)
	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "issuing", "-cn", "pkid auth test CA"); r.code != 0 {
		t.Fatalf("ca init: %+v", r)
	}
	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "legacy", "-algorithm", "rsa-2048", "-cn", "legacy"); r.code != 0 {
		t.Fatalf("ca init: %+v", r)
	}
	d := startDaemon(t, "serve", "-config", cfg)
	if !strings.HasPrefix(d.base, "https://") {
		t.Fatalf("base %s: want TLS from the pkid block", d.base)
	}
	pool := x509.NewCertPool()
	tlsPEM, _ := os.ReadFile(tlsCert)
	pool.AppendCertsFromPEM(tlsPEM)
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	call := func(method, endpoint, ctype string, body io.Reader) (int, envelope) {
		req, _ := http.NewRequest(method, d.base+"/api/v1/cfssl/"+endpoint, body)
		req.Header.Set("Content-Type", ctype)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env envelope
		data, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(data, &env); err != nil {
			t.Fatalf("%s %s: not an envelope: %q", method, endpoint, data)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("content type %q", ct)
		}
		return resp.StatusCode, env
	}
	leafReq := &csr.Request{CN: "a.example.com", Hosts: []string{"a.example.com"}}
	key, _ := leafReq.KeyRequest.Generate()
	csrPEM, _ := csr.Generate(leafReq, key)
	signBody, _ := json.Marshal(map[string]string{"certificate_request": string(csrPEM), "profile": "server", "label": "issuing"})
	for _, tc := range []struct {
		name, method, endpoint string
		body                   io.Reader
		status                 int
		want                   string
	}{
		{"plain sign needs auth", "POST", "sign", bytes.NewReader(signBody), 400, "authentication required"},
		{"malformed JSON", "POST", "info", strings.NewReader("{"), 400, "parse"},
		{"wrong method", "GET", "sign", nil, 405, "Method is not allowed"},
		{"unknown label", "POST", "info", strings.NewReader(`{"label":"nope"}`), 400, "bad label"},
		{"oversize body", "POST", "info", bytes.NewReader(make([]byte, 2<<20)), 413, ""},
		{"unknown endpoint", "POST", "nope", strings.NewReader("{}"), 404, ""},
	} {
		status, env := call(tc.method, tc.endpoint, "application/json", tc.body)
		if status != tc.status || env.Success || len(env.Errors) != 1 || !strings.Contains(env.Errors[0].Message, tc.want) {
			t.Errorf("%s: status %d envelope %+v; want %d naming %q", tc.name, status, env, tc.status, tc.want)
		}
	}

	// authsign through pkid's client, CFSSL-style auth_remote profile, pinned CA.
	clientCfg := writeFile(t, dir, "client.json", `{"signing": {"default": {"expiry": "1h"}, "profiles": {"server": {"auth_remote": {"remote": "pkid", "auth_key": "k"}}}},
  "auth_keys": {"k": {"type": "standard", "key": "`+hexKey+`"}}, "remotes": {"pkid": "`+d.base+`"}}`)
	leaf := writeFile(t, dir, "leaf.json", leafJSON)
	m := decodeResult(t, pkid(t, "gencert", "-config", clientCfg, "-tls-remote-ca", tlsCert, "-label", "issuing", "-profile", "server", leaf))
	p := writeFile(t, dir, "authsigned.pem", m["cert"])
	if out, err := exec.Command(openssl, "verify", "-CAfile", filepath.Join(dir, "ca", "issuing.pem"), p).CombinedOutput(); err != nil {
		t.Fatalf("verify: %v %s", err, out)
	}
	// A wrong key is refused.
	bad := writeFile(t, dir, "bad.json", strings.Replace(mustRead(t, clientCfg), hexKey, "ffffffffffffffffffffffffffffffff", 1))
	if r := pkid(t, "gencert", "-config", bad, "-tls-remote-ca", tlsCert, "-label", "issuing", "-profile", "server", leaf); r.code == 0 || !strings.Contains(r.stderr, "invalid token") {
		t.Errorf("wrong key: %+v", r)
	}
	// Without the pinned CA the TLS handshake fails.
	if r := pkid(t, "info", "-remote", d.base); r.code == 0 {
		t.Errorf("unpinned TLS succeeded: %+v", r)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// childPIDs lists pid's child processes.
func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(data)) {
			var n int
			fmt.Sscan(f, &n)
			out = append(out, n)
		}
	}
	return out
}

// A SIGTERM to the whole process group (systemd, timeout, kill -- -PGID)
// reaches the plugins too: they ignore it, so the daemon's graceful
// shutdown still has its keystore and store; the daemon stops them after.
func TestPluginsIgnoreGroupSIGTERM(t *testing.T) {
	d := startDev(t, t.TempDir())
	kids := childPIDs(d.cmd.Process.Pid)
	if len(kids) != 3 { // keystore, certstore, trust
		t.Fatalf("want 3 plugin processes, got %v (%v)", kids, children(d.cmd.Process.Pid))
	}
	for _, k := range kids {
		if err := syscall.Kill(k, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	if after := childPIDs(d.cmd.Process.Pid); fmt.Sprint(after) != fmt.Sprint(kids) {
		t.Fatalf("plugin processes changed after SIGTERM: %v → %v", kids, after)
	}
	// Signing needs both plugins: the keystore signs, the store records.
	req := &csr.Request{CN: "after-term.example.com", Hosts: []string{"after-term.example.com"}}
	key, _ := req.KeyRequest.Generate()
	csrPEM, _ := csr.Generate(req, key)
	if resp, env, err := post(d.base, "sign", map[string]string{"certificate_request": string(csrPEM)}); err != nil || resp.StatusCode != 200 || !env.Success {
		t.Fatalf("sign after the plugins got SIGTERM: %v %+v", err, env)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not stop on SIGTERM")
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, k := range kids {
		for syscall.Kill(k, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("plugin %d outlived the daemon", k)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
