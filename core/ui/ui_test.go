package ui_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/audit"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/metrics"
	"github.com/pkid/pkid/core/ui"
	"github.com/pkid/pkid/sdk"
	"golang.org/x/net/html"
)

// checkInert parses a page as a browser would and refuses anything that
// could run or load code: script, iframe, object, embed, img elements
// (the dashboard uses none), event-handler attributes, javascript: URLs,
// inline styles (the CSP forbids them; the page would log a violation).
func checkInert(page string) error {
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() == io.EOF {
				return nil
			}
			return z.Err()
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script", "iframe", "object", "embed", "img", "frame", "base", "style", "svg", "math":
				return fmt.Errorf("the page holds a <%s> element", tok.Data)
			}
			for _, a := range tok.Attr {
				if strings.HasPrefix(a.Key, "on") || a.Key == "style" || a.Key == "srcdoc" ||
					((a.Key == "href" || a.Key == "src" || a.Key == "action") && !strings.HasPrefix(a.Val, "/")) {
					return fmt.Errorf("<%s> has attribute %s=%q", tok.Data, a.Key, a.Val)
				}
			}
		}
	}
}

const xssSubject = `CN=<script>alert("subject")</script>,O=x"><img src=x onerror=alert(1)>`

var xssSANs = []string{`"><script>alert('san')</script>`, `javascript:alert(2)`, `</td></tr></table><iframe src=//evil>`}

// TestDashboardDev serves the dashboard as -dev does (loopback clients)
// and reads every page: the CAs, a just-issued certificate in the lists
// and found by serial, name and fingerprint, hostile record content
// escaped, security headers, and refusals of anything but a plain read.
func TestDashboardDev(t *testing.T) {
	loaded := devConfig(t, "")
	d, err := newDaemon(t, loaded, daemon.Options{Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	base := d.URL()
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cert := issue(t, c, base, "dash-leaf.example.com")
	serial := cert.SerialNumber.String()
	hostile := putHostile(t, d, loaded, xssSubject, xssSANs)

	page := func(path string) string {
		t.Helper()
		code, h, body := fetch(t, c, http.MethodGet, base+path)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d: %s", path, code, body)
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; script-src 'none'", "X-Frame-Options": "DENY",
			"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8",
		} {
			if got := h.Get(k); !strings.Contains(got, want) {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, want)
			}
		}
		if err := checkInert(body); err != nil {
			t.Errorf("GET %s: %v", path, err)
		}
		return body
	}

	over := page("/ui/")
	for _, label := range d.Set().Labels() {
		if !strings.Contains(over, "<h3>"+label) {
			t.Errorf("overview lacks CA %q", label)
		}
	}
	for _, want := range []string{`keystore “file” “dev”`, "CRL freshness", "OCSP freshness", "ca." + d.Set().Default, `id="health"`} {
		if !strings.Contains(over, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	// The overview's link to each CA certificate works.
	for _, label := range d.Set().Labels() {
		link := "/ca/" + label + ".crt"
		if !strings.Contains(over, `href="`+link+`"`) {
			t.Errorf("overview lacks a link to %s", link)
			continue
		}
		code, _, der := fetch(t, c, http.MethodGet, base+link)
		if cert, err := x509.ParseCertificate([]byte(der)); code != 200 || err != nil || !cert.Equal(d.Set().CAs[label].Certificate()) {
			t.Errorf("GET %s: %d %v", link, code, err)
		}
	}
	recent := page("/ui/recent")
	if !strings.Contains(recent, serial) || !strings.Contains(recent, "CN=dash-leaf.example.com") {
		t.Errorf("recent issuance lacks the new certificate %s", serial)
	}
	if !strings.Contains(recent, "&lt;script&gt;alert(&#34;subject&#34;)&lt;/script&gt;") {
		t.Errorf("recent issuance does not show the hostile subject escaped:\n%s", recent)
	}
	if !strings.Contains(page("/ui/expiring"), hostile.Serial) { // 5 days left
		t.Error("expiring lacks the certificate expiring in 5 days")
	}
	for _, q := range []string{serial, fmt.Sprintf("%x", cert.SerialNumber), "dash-leaf", "DASH-LEAF.example", sha(cert), colons(sha(cert))} {
		body := page("/ui/search?q=" + url.QueryEscape(q))
		if !strings.Contains(body, "/ui/cert?ca="+d.Set().Default+"&amp;serial="+serial) {
			t.Errorf("search %q does not find %s", q, serial)
		}
	}
	if body := page("/ui/search?q=" + url.QueryEscape("<script>")); !strings.Contains(body, hostile.Serial) || !strings.Contains(body, "&lt;script&gt;") {
		t.Error("search for the payload does not find the hostile record, escaped")
	}
	if body := page("/ui/search?q=no-such-name"); !strings.Contains(body, `id="nothing"`) {
		t.Error("a search without match does not say so")
	}
	detail := page("/ui/cert?ca=" + d.Set().Default + "&serial=" + serial)
	if !strings.Contains(detail, "BEGIN CERTIFICATE") || !strings.Contains(detail, colons(sha(cert))) {
		t.Error("the certificate page lacks the PEM or the fingerprint")
	}
	page("/ui/cert?ca=" + d.Set().Default + "&serial=" + hostile.Serial)

	// Revoke through the API: the revocations page lists it.
	code, _, body := post(t, c, base+"/api/v1/cfssl/revoke", fmt.Sprintf(`{"serial":%q,"authority_key_id":%q,"reason":"keyCompromise"}`, serial, d.Set().CAs[d.Set().Default].AKI()))
	if code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if rev := page("/ui/revoked"); !strings.Contains(rev, serial) || !strings.Contains(rev, "keyCompromise") {
		t.Error("revocations lack the revoked certificate")
	}

	// The stylesheet is the only other thing served, and cacheable.
	code, h, css := fetch(t, c, http.MethodGet, base+"/ui/static/style.css")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/css") || !strings.Contains(css, "body") {
		t.Errorf("style.css: %d %s", code, h.Get("Content-Type"))
	}
	if code, h, _ := fetch(t, c, http.MethodGet, base+"/ui"); code != http.StatusMovedPermanently || h.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d %s", code, h.Get("Location"))
	}
	if code, _, body := fetch(t, c, http.MethodHead, base+"/ui/recent"); code != 200 || body != "" {
		t.Errorf("HEAD: %d %q", code, body)
	}
	t.Run("refusals", func(t *testing.T) { testRefusals(t, d) })
	t.Run("chromium", func(t *testing.T) { testChromium(t, d, cert) })
}

func colons(h string) string {
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.ToUpper(strings.Join(parts, ":"))
}

func post(t *testing.T, c *http.Client, u, body string) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = fmt.Fprint(&b, resp.Body)
	buf := make([]byte, 1<<16)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode, resp.Header, string(buf[:n])
}

// testRefusals: methods other than GET and HEAD, unknown pages and
// hostile query strings get a clear 4xx and do no work.
func testRefusals(t *testing.T, d *daemon.Daemon) {
	base := d.URL()
	c := &http.Client{Timeout: 30 * time.Second}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, "PURGE"} {
		for _, p := range []string{"/ui/", "/ui/cert?ca=x&serial=1", "/ui/static/style.css"} {
			code, h, body := fetch(t, c, m, base+p)
			if code != http.StatusMethodNotAllowed || h.Get("Allow") != "GET, HEAD" || !strings.Contains(body, "read-only") {
				t.Errorf("%s %s: %d Allow=%q %s", m, p, code, h.Get("Allow"), body)
			}
		}
	}
	huge := strings.Repeat("a", 5000)
	for _, tc := range []struct{ path, want string }{
		{"/ui/recent?page=0", "page must be a number from 1 to 100"},
		{"/ui/recent?page=999999999999999999999", "page must be a number"},
		{"/ui/recent?page=-1", "page must be a number"},
		{"/ui/recent?page=1&page=2", "given 2 times"},
		{"/ui/recent?ca=nope", "ca &#34;nope&#34; is not a configured CA"},
		{"/ui/recent?ca=%3Cscript%3E", "ca &#34;&lt;script&gt;&#34; is not a configured CA"},
		{"/ui/recent?evil=1", "unknown query parameter &#34;evil&#34;"},
		{"/ui/?x=1", "unknown query parameter"},
		{"/ui/recent?" + huge, "at most 1024 are accepted"},
		{"/ui/search?q=" + strings.Repeat("x", 300), "at most 256 are accepted"},
		{"/ui/search?q=%00", "control character"},
		{"/ui/search?q=%ff%fe", "not valid UTF-8"},
		{"/ui/search?q=%zz", "does not parse"},
		{"/ui/recent?a;b", "does not parse"},
		{"/ui/cert?ca=" + d.Set().Default, "query parameter &#34;serial&#34; is required"},
		{"/ui/cert?ca=" + d.Set().Default + "&serial=0x10", "serial must be a decimal number"},
		{"/ui/cert?ca=" + d.Set().Default + "&serial=" + strings.Repeat("9", 80), "serial must be a decimal number"},
	} {
		code, h, body := fetch(t, c, http.MethodGet, base+tc.path)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) || h.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %.80s: %d, want 400 %q:\n%.400s", tc.path, code, tc.want, body)
		}
	}
	for _, p := range []string{"/ui/nope", "/ui/static/other.css", "/ui/cert?ca=" + d.Set().Default + "&serial=12345"} {
		if code, _, _ := fetch(t, c, http.MethodGet, base+p); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}

	// In dev mode a client that is not on loopback is refused (behind a
	// port forward, say).
	req := httptest.NewRequest(http.MethodGet, "/ui/", nil)
	req.RemoteAddr = "192.0.2.7:40000"
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "loopback") {
		t.Errorf("non-loopback dev client: %d %s", rec.Code, rec.Body)
	}
	// A loopback client addressing another name (DNS rebinding: a web
	// page's name pointed at 127.0.0.1) is refused; loopback names pass.
	for host, want := range map[string]int{"evil.example:8888": 403, "127.0.0.1.nip.io": 403, "localhost:8888": 200, "127.0.0.1:8888": 200, "[::1]:8888": 200, "LOCALHOST": 200} {
		req := httptest.NewRequest(http.MethodGet, "/ui/static/style.css", nil)
		req.RemoteAddr, req.Host = "127.0.0.1:40000", host
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %s: %d, want %d: %s", host, rec.Code, want, rec.Body)
		}
	}
}

// TestDashboardOffByDefault: without a ui block (and outside -dev) /ui/
// is not served.
func TestDashboardOffByDefault(t *testing.T) {
	d, err := newDaemon(t, devConfig(t, ""), daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, body := fetch(t, &http.Client{Timeout: 30 * time.Second}, http.MethodGet, d.URL()+"/ui/"); code != http.StatusNotFound || strings.Contains(body, "pkid</a>") {
		t.Errorf("/ui/ without ui block: %d", code)
	}
}

// TestDashboardMTLS: outside -dev the dashboard answers only verified
// client certificates named by the ui entry of client_cert_policy; the
// API keeps its own policy.
func TestDashboardMTLS(t *testing.T) {
	p := newPKI(t)
	_, certPath, keyPath := p.leaf(t, "server", true)
	alice, _, _ := p.leaf(t, "ops-alice", false)
	mallory, _, _ := p.leaf(t, "mallory", false)
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	loaded := devConfig(t, fmt.Sprintf(`  audit_log = %q
  client_cert_policy = { ui = ["^ops-.*$"], sign = ["^mallory$"] }
  tls {
    cert      = %q
    key       = %q
    client_ca = %q
  }
  ui {
    enabled = true
  }
`, auditLog, certPath, keyPath, p.dir+"/ca.pem"))
	d, err := newDaemon(t, loaded, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := d.URL()
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base %s", base)
	}
	issued := issue(t, p.client(mallory), base, "mtls-leaf.example.com") // the API's policy still applies: mallory may sign

	if code, _, body := fetch(t, p.client(alice), http.MethodGet, base+"/ui/search?q="+issued.SerialNumber.String()); code != 200 || !strings.Contains(body, "CN=mtls-leaf.example.com") {
		t.Errorf("ops-alice: %d\n%.300s", code, body)
	}
	if code, _, body := fetch(t, p.client(mallory), http.MethodGet, base+"/ui/"); code != http.StatusForbidden || !strings.Contains(body, "&#34;mallory&#34; is not authorised for the dashboard") {
		t.Errorf("mallory: %d %.300s", code, body)
	}
	// The refusal is an authentication failure: audited and counted.
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, auditLog)), "\n") {
		rec, ok, err := audit.ParseLine([]byte(line))
		if err != nil || !ok {
			t.Fatalf("audit line %q: %v", line, err)
		}
		var f audit.AuthFailure
		if rec.Kind == audit.KindAuthFailure && json.Unmarshal(rec.Data, &f) == nil && f.Endpoint == "ui" && f.Client == "mallory" && strings.Contains(f.Reason, "not authorised for the dashboard") {
			found = true
		}
	}
	if !found {
		t.Errorf("no auth_failure record for mallory on ui in:\n%s", readFile(t, auditLog))
	}
	if n := counter(t, "pkid_auth_failures_total", "endpoint", "ui"); n < 1 {
		t.Errorf("pkid_auth_failures_total{endpoint=ui} = %v", n)
	}
	if n := counter(t, "requests_total", "operation", "ui"); n < 2 {
		t.Errorf("requests_total{operation=ui} = %v", n)
	}
	// Without a client certificate the handshake fails (the listener
	// requires one), or the dashboard answers 401.
	code, err := tryGet(p.client(), base+"/ui/")
	if err == nil && code != http.StatusUnauthorized {
		t.Errorf("no client certificate: %d, want a failed handshake or 401", code)
	}
	// The dashboard itself answers 401 to a request without a verified
	// client certificate that reaches it (a listener that only requests
	// certificates).
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ui/", nil))
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "client certificate is required") {
		t.Errorf("no verified client: %d %s", rec.Code, rec.Body)
	}
	// The non-dev pages in Chromium, through a loopback proxy that
	// presents alice's certificate (headless Chromium presents none).
	t.Run("chromium", func(t *testing.T) {
		target, _ := url.Parse(base)
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.Transport = p.client(alice).Transport
		srv := httptest.NewServer(proxy)
		defer srv.Close()
		browse(t, srv.URL, d.Set(), issued, "mtls-")
	})
	// alice may read the dashboard but the API's sign entry does not name her.
	if code, _, _ := post(t, p.client(alice), base+"/api/v1/cfssl/sign", `{"certificate_request":"x"}`); code != http.StatusForbidden {
		t.Errorf("ops-alice on sign: %d, want 403", code)
	}
}

func tryGet(c *http.Client, u string) (int, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestDashboardConfigErrors: enabling the dashboard outside -dev without
// a ui policy or without client certificates is refused at start, at the
// ui block's place.
func TestDashboardConfigErrors(t *testing.T) {
	p := newPKI(t)
	_, certPath, keyPath := p.leaf(t, "server", true)
	for _, tc := range []struct{ body, want string }{
		{"  ui {\n    enabled = true\n  }\n", "Dashboard without a client policy"},
		{"  client_cert_policy = { ui = [] }\n  ui {\n    enabled = true\n  }\n", "Dashboard without client certificates"},
		{fmt.Sprintf("  client_cert_policy = { ui = [] }\n  tls {\n    cert = %q\n    key = %q\n  }\n  ui {\n    enabled = true\n  }\n", certPath, keyPath), "Dashboard without client certificates"},
	} {
		// The check comes before anything is built: the pkid block alone.
		path := filepath.Join(t.TempDir(), "pkid.hcl")
		if err := os.WriteFile(path, []byte("pkid {\n  listen = \"127.0.0.1:0\"\n"+tc.body+"}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, diags := config.Load(path)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		_, err := daemon.New(context.Background(), &catalog.Loaded{Config: cfg}, daemon.Options{})
		var de *daemon.DiagnosticsError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.want) || de.Diags[0].Subject == nil || de.Diags[0].Subject.Start.Line == 0 {
			t.Errorf("%q: %v, want %q with a source range", tc.body, err, tc.want)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// counter sums the in-process registry's counter name over the series
// whose label has value.
func counter(t *testing.T, name, label, value string) float64 {
	t.Helper()
	fams, err := metrics.Default.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// TestRecentBeyondScanBound: with more unexpired records than one page
// view may examine, "recent issuance" still shows the certificate issued
// last (the stores list the records that expire last first), and says
// that older ones are left out.
func TestRecentBeyondScanBound(t *testing.T) {
	loaded := devConfig(t, "  ui {\n    enabled = true\n  }\n")
	d, err := newDaemon(t, loaded, daemon.Options{Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	bp, ok := loaded.CertStores["main"].(sdk.BatchPutter)
	if !ok {
		t.Fatal("the dev store has no batch writes")
	}
	iss := d.Set().CAs[d.Set().Default]
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bulk"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(2 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	// Older certificates expiring within hours, more than the bound.
	const n = ui.MaxScan + 500
	for i := 0; i < n; i += 1000 {
		var recs []*sdk.CertRecord
		for j := i; j < min(i+1000, n); j++ {
			recs = append(recs, &sdk.CertRecord{Serial: fmt.Sprint(5_000_000 + j), AKI: iss.AKI(), IssuerLabel: d.Set().Default,
				Subject: fmt.Sprintf("CN=old%d.example.com", j), NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter.Add(time.Duration(j) * time.Second),
				Status: sdk.StatusGood, DER: der, CreatedAt: now.Add(-time.Hour)})
		}
		if _, err := bp.PutBatch(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
	c := &http.Client{Timeout: 30 * time.Second}
	fresh := issue(t, c, d.URL(), "fresh.example.com") // 90 days: expires last
	code, _, page := fetch(t, c, http.MethodGet, d.URL()+"/ui/recent?ca="+d.Set().Default)
	if code != http.StatusOK {
		t.Fatalf("recent: %d", code)
	}
	if !strings.Contains(page, fresh.SerialNumber.String()) {
		t.Fatalf("recent issuance beyond the scan bound lacks the certificate just issued (%s)", fresh.SerialNumber)
	}
	if !strings.Contains(page, "Only the 5000 certificates that expire last were examined") {
		t.Error("recent issuance does not say it stopped at the bound")
	}
	// The oldest records are the ones left out.
	if strings.Contains(page, ">5000000<") || strings.Contains(page, "old0.example.com") {
		t.Error("recent issuance lists the record that expires first")
	}
}
