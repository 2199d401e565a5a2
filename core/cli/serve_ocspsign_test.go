package cli

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Issue 11 item 6: enabling ocspsign without any authentication is a
// configuration error, reported at the enable_endpoints attribute.
func TestServeRefusesOpenOCSPSign(t *testing.T) {
	cfg := nodeConfig(t, "certstore \"sqlite\" \"main\" {\n  path = \"DIR/pkid.db\"\n}\npkid {\n  enable_endpoints = [\"gencrl\", \"ocspsign\"]\n}\n")
	initIssuing(t, cfg)
	// A daemon that starts anyway would serve until killed: the deadline
	// turns that into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pkidBinary(t), "serve", "-config", cfg, "-listen", "127.0.0.1:0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("serve with ocspsign and no authentication: %v (%v)\n%s", err, ctx.Err(), stderr.String())
	}
	if !regexp.MustCompile(`pkid\.hcl:11:3\b`).MatchString(stderr.String()) {
		t.Errorf("no diagnostic at enable_endpoints:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "ocspsign") || !strings.Contains(stderr.String(), "authentication") {
		t.Errorf("diagnostic does not say why:\n%s", stderr.String())
	}
}
