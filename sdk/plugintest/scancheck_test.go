package plugintest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"

	"testing"

	"github.com/pkid/pkid/sdk"
)

// scanMem is a tiny scancheck: one family with a TLS dial check.
type scanMem struct{}

func (scanMem) Close() error { return nil }

func (scanMem) Families(context.Context) ([]sdk.ScanFamily, error) {
	return []sdk.ScanFamily{{Name: "connectivity", Checks: []sdk.ScanCheckInfo{{Name: "tls-dial", Description: "a TLS handshake succeeds"}}}}, nil
}

func (scanMem) Run(ctx context.Context, req sdk.ScanRequest, fn func(*sdk.Finding) error) error {
	if req.Family != "connectivity" || req.Check != "tls-dial" {
		return fmt.Errorf("no check %s/%s: %w", req.Family, req.Check, sdk.ErrNotFound)
	}
	host, port, err := net.SplitHostPort(req.Host)
	if err != nil {
		host, port, err = req.Host, "443", nil
	}
	if p, perr := strconv.Atoi(port); host == "" || perr != nil || p < 1 || p > 65535 || net.ParseIP(host) == nil && !validName(host) {
		return fmt.Errorf("target %q: %w", req.Host, sdk.ErrInvalidArgument)
	}
	if req.IP != "" && net.ParseIP(req.IP) == nil {
		return fmt.Errorf("ip %q: %w", req.IP, sdk.ErrInvalidArgument)
	}
	addr := req.Host
	if req.IP != "" {
		addr = net.JoinHostPort(req.IP, port)
	}
	f := sdk.Finding{Family: req.Family, Check: req.Check, Grade: sdk.GradeGood}
	conn, err := (&tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}).DialContext(ctx, "tcp", addr)
	if err != nil {
		f.Grade, f.Reason = sdk.GradeBad, err.Error()
	} else {
		conn.Close()
	}
	return fn(&f)
}

func validName(h string) bool {
	for _, r := range h {
		if !(r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func TestScanCheckKit(t *testing.T) {
	t.Run("InProcess", func(t *testing.T) {
		TestScanCheck(t, func(*testing.T) sdk.ScanCheck { return scanMem{} })
	})
	t.Run("GRPC", func(t *testing.T) {
		var seen sdk.Config
		c := ServeGRPC(t, adapterPlugin{kinds: []string{sdk.KindScanCheck}, inst: func() sdk.Instance { return scanMem{} }, seen: &seen})
		n := 0
		TestScanCheck(t, func(t *testing.T) sdk.ScanCheck {
			n++
			name := fmt.Sprintf("kit%d", n)
			Configure(t, c, sdk.KindScanCheck, name, map[string]any{})
			return c.ScanCheck(name)
		})
	})
}
