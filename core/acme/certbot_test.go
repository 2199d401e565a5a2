package acme_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
)

// TestCertbotHTTP01 runs Debian's certbot against pkid: certonly with its
// standalone http-01 server on the validation port.
func TestCertbotHTTP01(t *testing.T) {
	certbot, err := exec.LookPath("certbot")
	if err != nil {
		testtool.Missing(t, "certbot", err)
	}
	legoPorts.Lock()
	defer legoPorts.Unlock()
	h := shared
	name := "certbot.acme.test"
	h.DNS.SetA(name, "127.0.0.1")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, certbot, "certonly", "--standalone", "--non-interactive", "--agree-tos",
		"--register-unsafely-without-email", "--server", h.Directory("web"),
		"--http-01-port", strconv.Itoa(h.HTTPPort), "--http-01-address", "127.0.0.1", "-d", name,
		"--config-dir", filepath.Join(dir, "config"), "--work-dir", filepath.Join(dir, "work"), "--logs-dir", filepath.Join(dir, "logs"))
	// certbot must trust the daemon's TLS certificate (self-signed for
	// 127.0.0.1 in the test): requests reads REQUESTS_CA_BUNDLE, so the
	// server is still verified, against that certificate only.
	cmd.Env = append(os.Environ(), "REQUESTS_CA_BUNDLE="+filepath.Join(h.Dir, "tls.pem"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("certbot: %v\n%s", err, out)
	}
	chain, err := os.ReadFile(filepath.Join(dir, "config", "live", name, "fullchain.pem"))
	if err != nil {
		t.Fatalf("certbot wrote no chain: %v\n%s", err, out)
	}
	verifyChain(t, h, chain, name)
}
