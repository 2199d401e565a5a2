package plugintest

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// TestScanCheck runs the scancheck conformance suite. newCheck must return
// a configured instance and arrange its Close (t.Cleanup). The kit serves
// TLS on 127.0.0.1 and runs every check the instance describes against it,
// and against a port where nothing listens; it dials nothing else.
func TestScanCheck(t *testing.T, newCheck func(t *testing.T) sdk.ScanCheck) {
	t.Run("Families", func(t *testing.T) { scanFamilies(t, newCheck(t)) })
	t.Run("RunEveryCheck", func(t *testing.T) { scanRunAll(t, newCheck(t)) })
	t.Run("Unreachable", func(t *testing.T) { scanUnreachable(t, newCheck(t)) })
	t.Run("NotFound", func(t *testing.T) { scanNotFound(t, newCheck(t)) })
	t.Run("BadTarget", func(t *testing.T) { scanBadTarget(t, newCheck(t)) })
	t.Run("StopOnError", func(t *testing.T) { scanStop(t, newCheck(t)) })
}

func scanFamiliesOf(t *testing.T, sc sdk.ScanCheck) []sdk.ScanFamily {
	t.Helper()
	fams, err := sc.Families(t.Context())
	if err != nil {
		t.Fatalf("Families: %v", err)
	}
	if len(fams) == 0 {
		t.Fatal("Families describes no family")
	}
	return fams
}

func scanFamilies(t *testing.T, sc sdk.ScanCheck) {
	seen := map[string]bool{}
	for _, f := range scanFamiliesOf(t, sc) {
		if f.Name == "" || seen[f.Name] {
			t.Errorf("family name %q is empty or used twice", f.Name)
		}
		seen[f.Name] = true
		if len(f.Checks) == 0 {
			t.Errorf("family %q has no checks", f.Name)
		}
		checks := map[string]bool{}
		for _, c := range f.Checks {
			if c.Name == "" || checks[c.Name] {
				t.Errorf("family %q: check name %q is empty or used twice", f.Name, c.Name)
			}
			checks[c.Name] = true
		}
	}
}

// scanTLSTarget serves TLS on loopback and returns its host:port.
func scanTLSTarget(t *testing.T) string {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// scanClosedPort returns a loopback host:port where nothing listens.
func scanClosedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

var scanGrades = []sdk.Grade{sdk.GradeGood, sdk.GradeWarning, sdk.GradeBad, sdk.GradeSkipped}

// scanRun runs one check and checks every finding it makes.
func scanRun(t *testing.T, sc sdk.ScanCheck, fam, check, host string) []sdk.Finding {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out []sdk.Finding
	err := sc.Run(ctx, sdk.ScanRequest{Family: fam, Check: check, Host: host}, func(f *sdk.Finding) error {
		out = append(out, *f)
		return nil
	})
	if err != nil {
		t.Errorf("Run(%s/%s, %s): %v", fam, check, host, err)
	}
	for _, f := range out {
		if f.Family != fam || f.Check != check {
			t.Errorf("Run(%s/%s) made a finding for %s/%s", fam, check, f.Family, f.Check)
		}
		if !slices.Contains(scanGrades, f.Grade) {
			t.Errorf("%s/%s: grade %q is not one of %q", fam, check, f.Grade, scanGrades)
		}
		if f.Grade != sdk.GradeGood && f.Reason == "" {
			t.Errorf("%s/%s: grade %q without a reason", fam, check, f.Grade)
		}
		if len(f.Output) > 0 && !json.Valid(f.Output) {
			t.Errorf("%s/%s: Output is not JSON: %q", fam, check, f.Output)
		}
	}
	return out
}

func scanRunAll(t *testing.T, sc sdk.ScanCheck) {
	host := scanTLSTarget(t)
	for _, f := range scanFamiliesOf(t, sc) {
		for _, c := range f.Checks {
			if len(scanRun(t, sc, f.Name, c.Name, host)) == 0 {
				t.Errorf("%s/%s made no finding", f.Name, c.Name)
			}
		}
	}
}

// A target that cannot be reached is a finding, not an error.
func scanUnreachable(t *testing.T, sc sdk.ScanCheck) {
	host := scanClosedPort(t)
	for _, f := range scanFamiliesOf(t, sc) {
		for _, c := range f.Checks {
			scanRun(t, sc, f.Name, c.Name, host)
		}
	}
}

func scanNotFound(t *testing.T, sc sdk.ScanCheck) {
	f := scanFamiliesOf(t, sc)[0]
	noop := func(*sdk.Finding) error { return nil }
	for _, req := range []sdk.ScanRequest{
		{Family: "kit-no-such-family", Check: f.Checks[0].Name, Host: "127.0.0.1:1"},
		{Family: f.Name, Check: "kit-no-such-check", Host: "127.0.0.1:1"},
	} {
		if err := sc.Run(t.Context(), req, noop); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("Run(%s/%s): %v, want ErrNotFound", req.Family, req.Check, err)
		}
	}
}

func scanBadTarget(t *testing.T, sc sdk.ScanCheck) {
	f := scanFamiliesOf(t, sc)[0]
	noop := func(*sdk.Finding) error { return nil }
	for _, req := range []sdk.ScanRequest{
		{Host: ""},
		{Host: "bad host:443"},
		{Host: "127.0.0.1:99999"},
		{Host: "localhost", IP: "not-an-ip"},
	} {
		req.Family, req.Check = f.Name, f.Checks[0].Name
		if err := sc.Run(t.Context(), req, noop); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("Run against Host %q IP %q: %v, want ErrInvalidArgument", req.Host, req.IP, err)
		}
	}
}

func scanStop(t *testing.T, sc sdk.ScanCheck) {
	host := scanTLSTarget(t)
	stop := errors.New("kit: stop")
	f := scanFamiliesOf(t, sc)[0]
	calls := 0
	err := sc.Run(t.Context(), sdk.ScanRequest{Family: f.Name, Check: f.Checks[0].Name, Host: host},
		func(*sdk.Finding) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Run with a failing callback: %v after %d calls, want the callback's error after 1", err, calls)
	}
}
