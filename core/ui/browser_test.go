package ui_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/internal/testtool"
)

// chromiumPath finds the Chromium binary (Debian's package: chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	var firstErr error
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		p, err := exec.LookPath(name)
		if err == nil {
			return p
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	testtool.Missing(t, "Chromium (Debian package chromium)", firstErr)
	return ""
}

// artifactDir is where screenshots go: $PKID_ARTIFACTS/ui, else
// .artifacts/ui at the repository root under CI=true (kept by CI, ignored
// by git), else a temporary directory. The test prints it.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if d := os.Getenv("PKID_ARTIFACTS"); d != "" {
		dir = filepath.Join(d, "ui")
	} else if os.Getenv("CI") == "true" {
		dir = filepath.Join("..", "..", ".artifacts", "ui")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	t.Logf("screenshots in %s", abs)
	return abs
}

// browserEvents collects what a page logs: console messages, uncaught
// exceptions and the browser's log entries (CSP violations, failed loads).
type browserEvents struct {
	mu  sync.Mutex
	all []string
}

func (b *browserEvents) add(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all = append(b.all, fmt.Sprintf(format, args...))
}

func (b *browserEvents) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.all
	b.all = nil
	return out
}

// testChromium loads each page of the dev daemon's dashboard in headless
// Chromium: no console message, exception, CSP violation or failed load
// on any; the CAs and the just-issued certificate are shown; the search
// form finds it by serial, name and fingerprint. Screenshots of each page
// are saved. (Headless Chromium does not present client certificates:
// TestDashboardMTLS drives it through a local proxy that does, and tests
// the mTLS refusals with Go clients.)
func testChromium(t *testing.T, d *daemon.Daemon, cert *x509.Certificate) {
	browse(t, d.URL(), d.Set(), cert, "dev-")
}

// browse is testChromium against base (the daemon, or a proxy in front of
// it); screenshots are named with prefix.
func browse(t *testing.T, base string, set *authority.Set, cert *x509.Certificate, prefix string) {
	exe := chromiumPath(t)
	shots := artifactDir(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("no-proxy-server", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	var ev browserEvents
	err := chromedp.Listen(ctx, func(e any) {
		switch e := e.(type) {
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			ev.add("console.%s: %s", e.Type, strings.Join(args, " "))
		case *runtime.EventExceptionThrown:
			ev.add("exception: %s", e.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			ev.add("log %s/%s: %s %s", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL)
		}
	})
	if err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	serial := cert.SerialNumber.String()

	visit := func(name, path string, wants ...string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(base+path), chromedp.WaitReady(chromedp.CSS("footer"))); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		screenshot(t, ctx, shots, prefix+name)
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s does not show %q", path, w)
			}
		}
		if got := ev.take(); len(got) > 0 {
			t.Errorf("%s logged in the browser:\n%s", path, strings.Join(got, "\n"))
		}
	}
	visit("overview", "/ui/", append(set.Labels(), "CRL freshness", "OCSP freshness", "Plugin and key health")...)
	visit("recent", "/ui/recent", serial, cert.Subject.CommonName)
	visit("expiring", "/ui/expiring", "Expiring soon")
	visit("revoked", "/ui/revoked", "Revocations")
	visit("certificate", "/ui/cert?ca="+url.QueryEscape(set.Default)+"&serial="+serial, serial, "BEGIN CERTIFICATE")

	// The search form, typed into and submitted as a user would.
	for _, q := range []struct{ name, text string }{{"search-serial", serial}, {"search-name", cert.Subject.CommonName[:9]}, {"search-fingerprint", sha(cert)}} {
		err := chromedp.Do(ctx, chromedp.Navigate(base+"/ui/"), chromedp.WaitReady(chromedp.CSS("footer")),
			chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), q.text), chromedp.Submit(chromedp.CSS(`form.search`)),
			chromedp.WaitVisible(chromedp.CSS(`table.certs, #nothing`)))
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(`a[href*="serial=`+serial+`"]`), chromedp.AtLeast(0)))
		if err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, shots, prefix+q.name)
		if len(nodes) == 0 {
			t.Errorf("searching %q in the browser does not find %s:\n%s", q.text, serial, text)
		}
		if got := ev.take(); len(got) > 0 {
			t.Errorf("%s logged in the browser:\n%s", q.name, strings.Join(got, "\n"))
		}
	}

	// The collector does see problems: a missing page is a failed load.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/ui/no-such-page"), chromedp.WaitReady(chromedp.CSS("footer"))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		got = ev.take()
	}
	if !strings.Contains(strings.Join(got, "\n"), "404") {
		t.Errorf("a 404 page logged %q in the browser; the console collector may be blind", got)
	}
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
