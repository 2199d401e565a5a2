package agent_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/agent"
	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/transport/pkidtest"
)

// need finds a program; missing, the test fails under CI=true (the
// harness installs it) and is skipped elsewhere.
func need(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if _, err := os.Stat(n); err == nil {
			return n
		}
	}
	testtool.Missing(t, names[0]+" (scripts/test.sh installs it)", exec.ErrNotFound)
	return ""
}

// nginx (Debian's package) serves the files pkid agent keeps renewed,
// reloaded by SIGHUP through its pid file: openssl s_client, connecting
// all along, sees each new certificate, verified to the root, and never
// fails to connect.
func TestNginxServedByAgent(t *testing.T) {
	t.Parallel()
	nginx := need(t, "nginx", "/usr/sbin/nginx")
	openssl := need(t, "openssl")
	ca := pkidtest.Start(t, pkidtest.Options{Expiry: "8s"})
	dir := t.TempDir()
	port, err := testtool.FreePort()
	if err != nil {
		t.Fatal(err)
	}

	reload := fmt.Sprintf("  reload {\n    signal   = \"HUP\"\n    pid_file = \"%s/nginx.pid\"\n  }\n", dir)
	cfg, err := agent.Load(write(t, filepath.Join(dir, "agent.hcl"), agentConfig(ca, 0.5, "", certConfig(dir, "nginx", reload))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := agent.New(ctx, cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conf := write(t, filepath.Join(dir, "nginx.conf"), fmt.Sprintf(`
daemon off;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp-body;
  proxy_temp_path %[1]s/tmp-proxy;
  fastcgi_temp_path %[1]s/tmp-fastcgi;
  uwsgi_temp_path %[1]s/tmp-uwsgi;
  scgi_temp_path %[1]s/tmp-scgi;
  server {
    listen 127.0.0.1:%[2]d ssl;
    ssl_certificate %[1]s/nginx-bundle.pem;
    ssl_certificate_key %[1]s/nginx.key;
    location / { return 200 "ok\n"; }
  }
}
`, dir, port))
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	var nginxOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &nginxOut, &nginxOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			if _, err := os.Stat(filepath.Join(dir, "nginx.pid")); err == nil {
				break
			}
		}
		if i > 100 {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start: %s %s", nginxOut.String(), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	go a.Run(ctx)

	// s_client verifies the chain to the root and prints the served
	// certificate; any failure to connect or verify counts.
	probe := func() (string, error) {
		c := exec.Command(openssl, "s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port), "-servername", "127.0.0.1",
			"-CAfile", ca.RootFile, "-verify_return_error", "-verify_ip", "127.0.0.1")
		c.Stdin = strings.NewReader("")
		out, err := c.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("s_client: %v: %s", err, lastLines(out, 5))
		}
		blk, _ := pem.Decode(out[bytes.Index(out, []byte("-----BEGIN CERTIFICATE-----")):])
		if blk == nil {
			return "", fmt.Errorf("s_client printed no certificate: %s", lastLines(out, 5))
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return "", err
		}
		return cert.SerialNumber.String(), nil
	}
	seen := map[string]bool{}
	var order []string
	probes, failures := 0, 0
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		serial, err := probe()
		probes++
		if err != nil {
			failures++
			t.Errorf("probe %d: %v", probes, err)
		} else if !seen[serial] {
			seen[serial] = true
			order = append(order, serial)
		}
		if st := a.Status()[0]; st.Renewals >= 3 && seen[st.Serial] {
			break
		}
		time.Sleep(30 * time.Millisecond)
	}
	st := a.Status()[0]
	if failures != 0 {
		t.Fatalf("%d of %d connections failed", failures, probes)
	}
	if st.Renewals < 3 || len(seen) < 4 || !seen[st.Serial] {
		t.Fatalf("after %d probes: renewals %d, served serials %v, agent's %s (reloads %d, %s)", probes, st.Renewals, order, st.Serial, st.Reloads, st.LastReloadErr)
	}
	// The first certificate was written before nginx ran (it needs the
	// files to start), so its HUP found no pid file: that one only failed.
	if st.Reloads != st.Writes || st.ReloadFailures != 1 {
		t.Fatalf("reloads: %+v", st)
	}
	t.Logf("%d s_client connections, none failed; nginx served %d certificates in turn after %d renewals", probes, len(seen), st.Renewals)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
