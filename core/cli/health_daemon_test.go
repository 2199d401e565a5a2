package cli

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/internal/testtool"
)

// startDevLog is startDev keeping the daemon's log (d.logText).
func startDevLog(t *testing.T, state string) *daemon {
	t.Helper()
	return startDaemonLog(t, "warn", "serve", "-dev", "-state", state, "-listen", "127.0.0.1:0")
}

type healthReply struct {
	status  int
	healthy bool
	parts   map[string]string
	message string
}

func getHealth(t *testing.T, base string) healthReply {
	t.Helper()
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(base + "/api/v1/cfssl/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Healthy bool              `json:"healthy"`
		Parts   map[string]string `json:"parts"`
	}
	json.Unmarshal(env.Result, &res)
	h := healthReply{status: resp.StatusCode, healthy: res.Healthy, parts: res.Parts}
	if len(env.Errors) > 0 {
		h.message = env.Errors[0].Message
	}
	return h
}

// pluginPID returns the pid of the daemon's child serving kind.
func pluginPID(t *testing.T, d *daemon, kind string) int {
	t.Helper()
	for _, pid := range childPIDs(d.cmd.Process.Pid) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), "plugin serve "+kind) {
			return pid
		}
	}
	t.Fatalf("no %s plugin process", kind)
	return 0
}

func signCSR(t *testing.T) []byte {
	t.Helper()
	req := &csr.Request{CN: "svc.example.com", Hosts: []string{"svc.example.com"}}
	key, _ := req.KeyRequest.Generate()
	p, err := csr.Generate(req, key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The audit's case: the keystore's key files are corrupted and its process
// dies, so it cannot restart. Health turns unhealthy naming the plugin
// process and the CA keys (it used to stay healthy).
func TestHealthBrokenKeystore(t *testing.T) {
	state := t.TempDir()
	d := startDevLog(t, state)
	if h := getHealth(t, d.base); h.status != 200 || !h.healthy || h.parts != nil {
		t.Fatalf("fresh daemon: %+v", h)
	}
	keys, _ := filepath.Glob(filepath.Join(state, "keys", "*"))
	if len(keys) == 0 {
		t.Fatal("no key files in the dev keystore")
	}
	for _, k := range keys {
		if err := os.WriteFile(k, []byte("corrupt"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Kill(pluginPID(t, d, "keystore"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	var h healthReply
	for {
		h = getHealth(t, d.base)
		if h.status == 503 && h.parts["ca.issuing"] == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health with a keystore that cannot restart: %+v", h)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if h.healthy || h.parts["plugin.keystore.file"] != "failed" || h.parts["certstore"] != "ok" ||
		!strings.Contains(h.message, "plugin.keystore.file") || !strings.Contains(h.message, "ca.issuing") {
		t.Errorf("health: %+v; want the keystore process and the CA keys failed, the certstore ok", h)
	}
	if !strings.Contains(d.logText(), "health: part failed") {
		t.Errorf("no log line for the failing parts:\n%s", d.logText())
	}
}

// Disk full: sign and revoke answer 503 naming the certstore (revoke used
// to give 500), never a certificate that was not recorded; the log carries
// the cause and health turns unhealthy. Once space is free, all recover.
func TestDiskFullDaemon(t *testing.T) {
	state := testtool.SmallDisk(t, 8<<20)
	d := startDevLog(t, state)
	csrPEM := signCSR(t)
	resp, env, err := post(d.base, "sign", map[string]string{"certificate_request": string(csrPEM), "profile": "server"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sign: %v %+v", err, env)
	}
	var res struct{ Certificate string }
	json.Unmarshal(env.Result, &res)
	block, _ := pem.Decode([]byte(res.Certificate))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	revoke := map[string]string{"serial": leaf.SerialNumber.String(), "authority_key_id": fmt.Sprintf("%x", leaf.AuthorityKeyId), "reason": "keyCompromise"}

	free := testtool.FillDisk(t, state)
	for name, call := range map[string]func() (*http.Response, envelope, error){
		"sign": func() (*http.Response, envelope, error) {
			return post(d.base, "sign", map[string]string{"certificate_request": string(csrPEM), "profile": "server"})
		},
		"revoke": func() (*http.Response, envelope, error) { return post(d.base, "revoke", revoke) },
	} {
		resp, env, err := call()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if resp.StatusCode != 503 || len(env.Errors) == 0 || !strings.Contains(env.Errors[0].Message, `certstore "main"`) {
			t.Errorf("%s on a full disk: %d %+v; want 503 naming certstore \"main\"", name, resp.StatusCode, env)
		}
		if strings.Contains(string(env.Result), "BEGIN CERTIFICATE") {
			t.Errorf("%s returned a certificate it could not record", name)
		}
	}
	if !strings.Contains(d.logText(), "database or disk is full") {
		t.Errorf("the log does not carry the cause:\n%s", d.logText())
	}
	// Reads still work on a full disk; health knows from the failed writes.
	if h := getHealth(t, d.base); h.status != 503 || h.parts["certstore.main"] != "failed" || !strings.Contains(h.message, "certstore.main") {
		t.Errorf("health on a full disk: %+v; want 503 naming certstore.main", h)
	}
	free()
	if resp, env, err := post(d.base, "revoke", revoke); err != nil || resp.StatusCode != 200 {
		t.Errorf("revoke after freeing space: %v %d %+v", err, resp.StatusCode, env)
	}
	if h := getHealth(t, d.base); h.status != 200 || !h.healthy {
		t.Errorf("health once a write succeeds again: %+v", h)
	}
}

// The keystore killed repeatedly under concurrent signing: every answer is
// a certificate or a retryable 503 naming the keystore, never a 500 ("client
// closed" used to leak through).
func TestKeystoreKilledMidSign(t *testing.T) {
	d := startDevLog(t, t.TempDir())
	csrPEM := signCSR(t)
	var (
		stop  atomic.Bool
		wg    sync.WaitGroup
		ok    atomic.Int64
		retry atomic.Int64
		mu    sync.Mutex
		bad   []string
	)
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				resp, env, err := post(d.base, "sign", map[string]string{"certificate_request": string(csrPEM), "profile": "server"})
				switch {
				case err != nil: // the daemon died (it used to panic)
					mu.Lock()
					bad = append(bad, err.Error())
					mu.Unlock()
					return
				case resp.StatusCode == 200:
					ok.Add(1)
				case resp.StatusCode == 503 && len(env.Errors) > 0 && strings.Contains(env.Errors[0].Message, `keystore "dev"`):
					retry.Add(1)
				default:
					mu.Lock()
					if len(bad) < 10 {
						bad = append(bad, fmt.Sprintf("%d %+v", resp.StatusCode, env))
					}
					mu.Unlock()
				}
			}
		})
	}
	// waitServing waits until 8 more certificates were issued.
	waitServing := func() {
		t.Helper()
		base, deadline := ok.Load(), time.Now().Add(30*time.Second)
		for ok.Load() < base+8 {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("signing does not recover after a keystore kill; errors: %v", bad)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for range 3 {
		waitServing()
		if err := syscall.Kill(pluginPID(t, d, "keystore"), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // let the kill land among calls in flight
	}
	waitServing()
	stop.Store(true)
	wg.Wait()
	for _, b := range bad {
		t.Errorf("sign answered %s; want 200 or a 503 naming the keystore", b)
	}
	t.Logf("%d certificates, %d retryable 503s", ok.Load(), retry.Load())
}
