package agent_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/core/agent"
	"github.com/pkid/pkid/transport/pkidtest"
)

// childEnv makes the test binary run an agent (the kill -9 test's child).
const childEnv = "PKID_AGENT_TEST_CHILD_CONFIG"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		cfg, err := agent.Load(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		a, err := agent.New(context.Background(), cfg, agent.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		_ = a.Run(context.Background())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// certConfig is one certificate block writing into dir/name.*.
func certConfig(dir, name, reload string) string {
	return fmt.Sprintf(`
certificate %q {
  cn        = "%s.internal"
  hosts     = ["%s.internal", "127.0.0.1"]
  cert_file   = "%s/%s.crt"
  key_file    = "%s/%s.key"
  chain_file  = "%s/%s-chain.pem"
  bundle_file = "%s/%s-bundle.pem"
  owner     = "%d"
  group     = "%d"
  key_mode  = "0640"
  cert_mode = "0604"
%s}
`, name, name, name, dir, name, dir, name, dir, name, dir, name, os.Getuid(), os.Getgid(), reload)
}

func agentConfig(ca *pkidtest.CA, renewAt float64, listen string, certs ...string) string {
	return fmt.Sprintf(`
agent {
  listen      = %q
  renew_at    = %g
  jitter      = 0.02
  min_backoff = "200ms"
  max_backoff = "1s"
  ca {
    url      = %q
    root_ca  = %q
    auth_key = %q
    label    = "issuing"
    profile  = "mtls"
  }
}
%s`, listen, renewAt, ca.URL, ca.TLSCertFile, pkidtest.AuthKeyHex, strings.Join(certs, "\n"))
}

func write(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkFiles verifies the files of name: complete PEM, a matching pair,
// a chain to the root, bundle = leaf + chain, the configured modes.
func checkFiles(t *testing.T, dir, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	read := func(suffix string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name+suffix))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	crt, key, chain, bundle := read(".crt"), read(".key"), read("-chain.pem"), read("-bundle.pem")
	pair, err := tls.X509KeyPair(append(append([]byte{}, crt...), chain...), key)
	if err != nil {
		t.Fatalf("%s: certificate and key: %v", name, err)
	}
	if !bytes.Equal(bundle, append(append([]byte{}, crt...), chain...)) {
		t.Fatalf("%s: bundle is not the leaf followed by the chain", name)
	}
	inter := x509.NewCertPool()
	rest := chain
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		inter.AddCert(c)
	}
	if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		t.Fatalf("%s: chain: %v", name, err)
	}
	for suffix, want := range map[string]os.FileMode{".key": 0o640, ".crt": 0o604, "-chain.pem": 0o604, "-bundle.pem": 0o604} {
		fi, err := os.Stat(filepath.Join(dir, name+suffix))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Fatalf("%s%s: mode %v, want %v", name, suffix, fi.Mode().Perm(), want)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
			t.Fatalf("%s%s: owner %d:%d", name, suffix, st.Uid, st.Gid)
		}
	}
	return pair.Leaf
}

// The agent renews two certificates' files several times, keeps their
// modes, runs each reload command once per new certificate, and reports
// it on /status and /metrics.
func TestAgentRenewsFiles(t *testing.T) {
	t.Parallel()
	ca := pkidtest.Start(t, pkidtest.Options{Expiry: "8s"})
	dir := t.TempDir()
	reload := func(name string) string {
		return fmt.Sprintf("  reload {\n    command = [\"/bin/sh\", \"-c\", \"echo reload >> %s/%s.reloads\"]\n  }\n", dir, name)
	}
	cfgPath := write(t, filepath.Join(dir, "agent.hcl"), agentConfig(ca, 0.5, "127.0.0.1:0",
		certConfig(dir, "web", reload("web")), certConfig(dir, "api", reload("api"))))
	cfg, err := agent.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := agent.New(ctx, cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	first := checkFiles(t, dir, "web", ca.Roots)
	// Someone loosens a mode: the next renewal writes the configured one.
	if err := os.Chmod(filepath.Join(dir, "web.key"), 0o666); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		st := a.Status()
		if st[0].Renewals >= 3 && st[1].Renewals >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("renewals: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-done
	for _, name := range []string{"web", "api"} {
		leaf := checkFiles(t, dir, name, ca.Roots)
		if name == "web" && leaf.SerialNumber.Cmp(first.SerialNumber) == 0 {
			t.Fatal("web's files were not renewed")
		}
		var st agent.CertStatus
		for _, s := range a.Status() {
			if s.Name == name {
				st = s
			}
		}
		if st.Serial != leaf.SerialNumber.String() {
			t.Fatalf("%s: files hold %s, the agent uses %s", name, leaf.SerialNumber, st.Serial)
		}
		log, _ := os.ReadFile(filepath.Join(dir, name+".reloads"))
		if n := strings.Count(string(log), "reload\n"); n != st.Writes || st.Reloads != st.Writes || st.Writes != st.Renewals+1 {
			t.Fatalf("%s: %d reload runs, status %+v (want one per certificate written: the first and each renewal)", name, n, st)
		}
	}
	// Status and metrics over HTTP.
	srv := a.Handler()
	rec := httpGet(t, srv, "/status")
	var body struct {
		Certificates []agent.CertStatus `json:"certificates"`
	}
	if err := json.Unmarshal(rec, &body); err != nil || len(body.Certificates) != 2 || body.Certificates[0].Name != "api" || body.Certificates[0].Renewals < 3 {
		t.Fatalf("status: %s %v", rec, err)
	}
	m := string(httpGet(t, srv, "/metrics"))
	for _, want := range []string{`pkid_agent_renewals_total{certificate="web"} `, `pkid_agent_reloads_total{certificate="api"} `, "# TYPE pkid_agent_certificate_not_after_seconds gauge"} {
		if !strings.Contains(m, want) {
			t.Fatalf("metrics lack %q:\n%s", want, m)
		}
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{{http.MethodPost, "/status", 405}, {http.MethodDelete, "/metrics", 405}, {http.MethodGet, "/nope", 404}} {
		req, _ := http.NewRequest(c.method, c.path, strings.NewReader("{}"))
		rec := &recorder{header: http.Header{}}
		srv.ServeHTTP(rec, req)
		if rec.status != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, rec.status, c.status)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, ".pkid-agent-*")); len(matches) != 0 {
		t.Fatalf("temporary files left: %v", matches)
	}
}

func httpGet(t *testing.T, h http.Handler, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, path, nil)
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, req)
	if rec.status != 0 && rec.status != 200 {
		t.Fatalf("%s: %d %s", path, rec.status, rec.body.String())
	}
	return rec.body.Bytes()
}

type recorder struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(s int)           { r.status = s }

// An agent killed with SIGKILL at random moments while it renews every
// few hundred milliseconds never leaves a target file half-written, and
// the next start repairs whatever pair a kill split.
func TestAgentKill9(t *testing.T) {
	t.Parallel()
	ca := pkidtest.Start(t, pkidtest.Options{Expiry: "8s"})
	dir := t.TempDir()
	cfgPath := write(t, filepath.Join(dir, "agent.hcl"), agentConfig(ca, 0.05, "", certConfig(dir, "svc", "")))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	complete := func(suffix string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "svc"+suffix))
		if os.IsNotExist(err) {
			return // not written yet
		}
		if err != nil {
			t.Fatal(err)
		}
		rest := b
		blocks := 0
		for {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			blocks++
		}
		if blocks == 0 || len(bytes.TrimSpace(rest)) != 0 {
			t.Fatalf("svc%s is not complete PEM after a kill:\n%s", suffix, b)
		}
	}
	kills := 0
	for i := range 8 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+cfgPath)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v (agent exited early: %s)", i, err, stderr.String())
		}
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("run %d: the agent was not killed but exited: %v %s", i, cmd.ProcessState, stderr.String())
		}
		kills++
		for _, s := range []string{".crt", ".key", "-chain.pem", "-bundle.pem"} {
			complete(s)
		}
	}
	// A last run, stopped cleanly after its start: the files form a
	// matching, valid set again and no temporary file is left.
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+cfgPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	cfg, err := agent.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Agent.RenewAt = 0.9
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := agent.New(ctx, cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = a
	checkFiles(t, dir, "svc", ca.Roots)
	if matches, _ := filepath.Glob(filepath.Join(dir, ".pkid-agent-*")); len(matches) != 0 {
		t.Fatalf("temporary files left after a start: %v", matches)
	}
	t.Logf("%d kills, files complete after each", kills)
}

// A reload by signal reaches the process in the pid file, once per new
// certificate. USR1, not HUP: a shell cannot trap a signal ignored when it
// started, and a test run under nohup ignores HUP.
func TestAgentReloadSignal(t *testing.T) {
	t.Parallel()
	ca := pkidtest.Start(t, pkidtest.Options{Expiry: "1h"})
	dir := t.TempDir()
	got := filepath.Join(dir, "got")
	sh := exec.Command("/bin/sh", "-c", fmt.Sprintf("trap 'echo hup >> %s' USR1; echo $$ > %s/pid.tmp && mv %s/pid.tmp %s/pid; while :; do sleep 0.05; done", got, dir, dir, dir))
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sh.Process.Kill(); _ = sh.Wait() }()
	for range 100 {
		if _, err := os.Stat(filepath.Join(dir, "pid")); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	reload := fmt.Sprintf("  reload {\n    signal   = \"USR1\"\n    pid_file = \"%s/pid\"\n  }\n", dir)
	cfg, err := agent.Load(write(t, filepath.Join(dir, "agent.hcl"), agentConfig(ca, 0.5, "", certConfig(dir, "sig", reload))))
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(context.Background(), cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The pid file appears whole (renamed into place): polling could
	// otherwise see it created but still empty. Bounded waits are long
	// enough for a loaded machine.
	waitLines := func(want int) {
		t.Helper()
		for range 300 {
			b, _ := os.ReadFile(got)
			if strings.Count(string(b), "hup\n") == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		b, _ := os.ReadFile(got)
		t.Fatalf("want %d signals, got %q", want, b)
	}
	// Signals are not queued: wait for the first one's trap before the
	// renewal sends the next.
	waitLines(1) // the first certificate
	if err := a.RenewNow(context.Background(), "sig"); err != nil {
		t.Fatal(err)
	}
	waitLines(2) // and one renewal
	// A restart with good files writes nothing and signals nobody.
	if _, err := agent.New(context.Background(), cfg, agent.Options{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	waitLines(2)
	if err := a.RenewNow(context.Background(), "nope"); err == nil {
		t.Fatal("unknown certificate name accepted")
	}
	_ = io.Discard
}

// A restart keeps good files (nothing written); a configuration whose
// names changed gets a new certificate instead of renewals of the old one.
func TestAgentResumeAndNameChange(t *testing.T) {
	t.Parallel()
	ca := pkidtest.Start(t, pkidtest.Options{Expiry: "1h"})
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.hcl")
	start := func(body string) agent.CertStatus {
		t.Helper()
		cfg, err := agent.Load(write(t, path, body))
		if err != nil {
			t.Fatal(err)
		}
		a, err := agent.New(context.Background(), cfg, agent.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return a.Status()[0]
	}
	body := agentConfig(ca, 0.5, "", certConfig(dir, "res", ""))
	first := start(body)
	if first.Writes != 1 {
		t.Fatalf("first start: %+v", first)
	}
	again := start(body)
	if again.Writes != 0 || again.Serial != first.Serial {
		t.Fatalf("restart rewrote good files: %+v", again)
	}
	changed := start(strings.Replace(body, `hosts     = ["res.internal", "127.0.0.1"]`, `hosts     = ["res.internal", "127.0.0.2"]`, 1))
	leaf := checkFiles(t, dir, "res", ca.Roots)
	if changed.Writes != 1 || changed.Serial == first.Serial || len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "127.0.0.2" {
		t.Fatalf("after a name change: %+v, SANs %v", changed, leaf.IPAddresses)
	}
}

// systemd_unit runs `systemctl reload UNIT` (a stand-in systemctl on
// PATH records its arguments); a failing reload is counted and reported
// while the new files stay.
func TestAgentReloadSystemdAndFailure(t *testing.T) {
	ca := pkidtest.Start(t, pkidtest.Options{Expiry: "1h"})
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	write(t, filepath.Join(bin, "systemctl"), "#!/bin/sh\necho \"$@\" >> "+dir+"/systemctl.log\n")
	os.Chmod(filepath.Join(bin, "systemctl"), 0o755)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	unit := "  reload {\n    systemd_unit = \"nginx.service\"\n  }\n"
	failing := "  reload {\n    command = [\"/bin/sh\", \"-c\", \"echo cannot reload >&2; exit 3\"]\n  }\n"
	cfg, err := agent.Load(write(t, filepath.Join(dir, "agent.hcl"), agentConfig(ca, 0.5, "", certConfig(dir, "unit", unit), certConfig(dir, "bad", failing))))
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(context.Background(), cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RenewNow(context.Background(), "bad"); err != nil {
		t.Fatalf("a failing reload must not fail the renewal: %v", err)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "systemctl.log"))
	if string(log) != "reload nginx.service\n" {
		t.Fatalf("systemctl calls: %q", log)
	}
	var bad agent.CertStatus
	for _, s := range a.Status() {
		if s.Name == "bad" {
			bad = s
		}
	}
	if bad.Reloads != 2 || bad.ReloadFailures != 2 || !strings.Contains(bad.LastReloadErr, "exit status 3: cannot reload") || bad.Renewals != 1 {
		t.Fatalf("failing reload: %+v", bad)
	}
	if leaf := checkFiles(t, dir, "bad", ca.Roots); leaf.SerialNumber.String() != bad.Serial {
		t.Fatal("the renewed files were not kept after the failed reload")
	}
}
