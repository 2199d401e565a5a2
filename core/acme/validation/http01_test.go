package validation

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/pkid/pkid/internal/dnstest"
)

const (
	testToken = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
	testThumb = "nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEuFqUDSj0"
	testKeyAu = testToken + "." + testThumb
)

func httpReq(name string) Request {
	return Request{Type: HTTP01, Identifier: Identifier{Type: "dns", Value: name}, Token: testToken, KeyAuthorization: testKeyAu}
}

// port is the port of a URL or listener address.
func port(t *testing.T, hostport string) int {
	t.Helper()
	hostport = strings.TrimPrefix(strings.TrimPrefix(hostport, "http://"), "https://")
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := port(t, ln.Addr().String())
	ln.Close()
	return p
}

func TestHTTP01(t *testing.T) {
	dnsSrv := dnstest.Start(t)
	dnsSrv.SetA("ok.test", "127.0.0.1")
	dnsSrv.SetCNAME("alias.test", "ok.test")
	// The first addresses refuse connections; the last one answers.
	dnsSrv.SetA("multi.test", "127.0.0.5", "127.0.0.1")
	dnsSrv.SetAAAA("multi.test", "::1")
	dnsSrv.SetRcode("servfail.test", dns.RcodeServerFailure)
	dnsSrv.SetA("noaddr.test") // no records: NXDOMAIN
	dnsSrv.SetTXT("txtonly.test", "x")

	var hits atomic.Int64
	var lastHost atomic.Value
	var tlsPort int
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/acme-challenge/", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		lastHost.Store(r.Host)
		if r.URL.Path != "/.well-known/acme-challenge/"+testToken {
			http.NotFound(w, r)
			return
		}
		switch strings.ToLower(strings.Split(r.Host, ":")[0]) {
		case "ok.test", "alias.test", "multi.test", "127.0.0.1":
			fmt.Fprint(w, " \n"+testKeyAu+"\r\n\t")
		}
	})
	hostile := map[string]http.HandlerFunc{
		"wrong.test": func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, testToken+".someoneelse") },
		"404.test":   func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		"huge.test": func(w http.ResponseWriter, r *http.Request) {
			// The key authorization followed by 10 MiB: refused unread.
			fmt.Fprint(w, testKeyAu)
			chunk := []byte(strings.Repeat(" ", 64<<10))
			for range 160 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		},
		"slow.test": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		},
		"drip.test": func(w http.ResponseWriter, r *http.Request) {
			for range 100 {
				if _, err := w.Write([]byte(" ")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				time.Sleep(100 * time.Millisecond)
			}
		},
		"loop.test": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		},
		"badport.test": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://ok.test:1"+r.URL.Path, http.StatusFound)
		},
		"defaultport.test": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://ok.test"+r.URL.Path, http.StatusMovedPermanently)
		},
		"ftp.test": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "ftp://ok.test"+r.URL.Path, http.StatusFound)
		},
		"toip.test": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://"+srvAddr(r)+r.URL.Path, http.StatusFound)
		},
		"tohttps.test": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, fmt.Sprintf("https://ok.test:%d%s", tlsPort, r.URL.Path), http.StatusFound)
		},
		"torel.test": func(w http.ResponseWriter, r *http.Request) {
			// A relative redirect to the same host and port.
			http.Redirect(w, r, "/.well-known/acme-challenge/elsewhere/../"+testToken+"?x=1", http.StatusTemporaryRedirect)
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.ToLower(strings.Split(r.Host, ":")[0])
		if h, ok := hostile[name]; ok && !(name == "torel.test" && r.URL.RawQuery != "") {
			hits.Add(1)
			h(w, r)
			return
		}
		if name == "torel.test" {
			fmt.Fprint(w, testKeyAu)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(mux)
	defer tlsSrv.Close()
	tlsPort = port(t, tlsSrv.URL)
	for name := range hostile {
		dnsSrv.SetA(name, "127.0.0.1")
	}
	httpPort := port(t, srv.URL)

	tests := []struct {
		name     string
		req      Request
		httpPort int
		timeout  time.Duration
		problem  string // "" for OK
		detail   string // a substring of the problem detail
		addrs    string
		maxHits  int64
	}{
		{name: "ok", req: httpReq("ok.test"), addrs: "127.0.0.1"},
		{name: "cname", req: httpReq("alias.test"), addrs: "127.0.0.1"},
		{name: "mixed case", req: httpReq("OK.Test"), addrs: "127.0.0.1"},
		{name: "fallback to next address", req: httpReq("multi.test"), addrs: "::1,127.0.0.5,127.0.0.1"},
		{name: "ip identifier", req: Request{Type: HTTP01, Identifier: Identifier{Type: "ip", Value: "127.0.0.1"}, Token: testToken, KeyAuthorization: testKeyAu}, addrs: "127.0.0.1"},
		{name: "relative redirect", req: httpReq("torel.test"), addrs: "127.0.0.1"},
		{name: "redirect to https on the TLS port", req: httpReq("tohttps.test"), addrs: "127.0.0.1"},
		{name: "wrong key authorization", req: httpReq("wrong.test"), problem: ProblemIncorrectResponse, detail: "someoneelse"},
		{name: "404", req: httpReq("404.test"), problem: ProblemUnauthorized, detail: "HTTP 404"},
		{name: "huge body", req: httpReq("huge.test"), problem: ProblemUnauthorized, detail: "more than 8192 bytes"},
		{name: "slow server", req: httpReq("slow.test"), timeout: 300 * time.Millisecond, problem: ProblemConnection, detail: "timed out"},
		{name: "dripping body", req: httpReq("drip.test"), timeout: 300 * time.Millisecond, problem: ProblemConnection, detail: "timed out"},
		{name: "redirect loop", req: httpReq("loop.test"), problem: ProblemConnection, detail: "more than 10 redirects", maxHits: 11},
		{name: "redirect to another port", req: httpReq("badport.test"), problem: ProblemConnection, detail: "must go to port"},
		{name: "redirect to port 80", req: httpReq("defaultport.test"), problem: ProblemConnection, detail: "must go to port"},
		{name: "redirect to ftp", req: httpReq("ftp.test"), problem: ProblemConnection, detail: "only http and https"},
		{name: "redirect to an IP address", req: httpReq("toip.test"), problem: ProblemConnection, detail: "IP address for a dns identifier"},
		{name: "nxdomain", req: httpReq("nowhere.test"), problem: ProblemDNS, detail: "NXDOMAIN"},
		{name: "nodata", req: httpReq("txtonly.test"), problem: ProblemDNS, detail: "no A or AAAA"},
		{name: "servfail", req: httpReq("servfail.test"), problem: ProblemDNS, detail: "SERVFAIL"},
		{name: "connection refused", req: httpReq("ok.test"), httpPort: closedPort(t), problem: ProblemConnection, detail: "connection refused", addrs: "127.0.0.1"},
		{name: "bad token", req: Request{Type: HTTP01, Identifier: Identifier{Type: "dns", Value: "ok.test"}, Token: "../../etc/passwd", KeyAuthorization: "../../etc/passwd." + testThumb}, problem: ProblemMalformed, detail: "token", maxHits: -1},
		{name: "key authorization of another token", req: Request{Type: HTTP01, Identifier: Identifier{Type: "dns", Value: "ok.test"}, Token: testToken, KeyAuthorization: testThumb + "." + testThumb}, problem: ProblemMalformed, detail: "key authorization", maxHits: -1},
		{name: "name with a port", req: httpReq("ok.test:1"), problem: ProblemRejectedID, maxHits: -1},
		{name: "name with a path", req: httpReq("ok.test/x"), problem: ProblemRejectedID, maxHits: -1},
		{name: "name with a user", req: httpReq("u@ok.test"), problem: ProblemRejectedID, maxHits: -1},
		{name: "wildcard label", req: httpReq("*.ok.test"), problem: ProblemRejectedID, maxHits: -1},
		{name: "ip as dns", req: httpReq("127.0.0.1"), problem: ProblemRejectedID, maxHits: -1},
		{name: "ip not canonical", req: Request{Type: HTTP01, Identifier: Identifier{Type: "ip", Value: "127.000.0.1"}, Token: testToken, KeyAuthorization: testKeyAu}, problem: ProblemRejectedID, maxHits: -1},
		{name: "unknown identifier", req: Request{Type: HTTP01, Identifier: Identifier{Type: "email", Value: "a@b"}, Token: testToken, KeyAuthorization: testKeyAu}, problem: ProblemMalformed, maxHits: -1},
		{name: "unknown challenge", req: Request{Type: "http-02", Identifier: Identifier{Type: "dns", Value: "ok.test"}, Token: testToken, KeyAuthorization: testKeyAu}, problem: ProblemMalformed, maxHits: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := httpPort
			if tt.httpPort != 0 {
				p = tt.httpPort
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 3 * time.Second
			}
			l := NewLocal(LocalOptions{Name: "here", Resolver: dnsSrv.Addr, HTTPPort: p, TLSPort: tlsPort, Timeout: timeout})
			hits.Store(0)
			queries := dnsSrv.Queries()
			start := time.Now()
			v := l.Validate(context.Background(), tt.req)
			elapsed := time.Since(start)
			if v.Perspective != "here" {
				t.Errorf("perspective %q", v.Perspective)
			}
			if tt.problem == "" {
				if !v.OK || v.Problem != nil {
					t.Fatalf("refused: %+v", v.Problem)
				}
			} else {
				if v.OK || v.Problem == nil || v.Problem.Type != tt.problem || !strings.Contains(v.Problem.Detail, tt.detail) {
					t.Fatalf("view %+v (problem %+v), want %s containing %q", v, v.Problem, tt.problem, tt.detail)
				}
			}
			if tt.addrs != "" && strings.Join(v.Addresses, ",") != tt.addrs {
				t.Errorf("addresses %q, want %q", v.Addresses, tt.addrs)
			}
			if elapsed > timeout+time.Second {
				t.Errorf("took %v with a timeout of %v", elapsed, timeout)
			}
			switch {
			case tt.maxHits < 0:
				// Refused before any network traffic.
				if hits.Load() != 0 || dnsSrv.Queries() != queries {
					t.Errorf("%d HTTP requests and %d DNS queries for a refused request", hits.Load(), dnsSrv.Queries()-queries)
				}
			case tt.maxHits > 0 && hits.Load() > tt.maxHits:
				t.Errorf("%d requests, want at most %d", hits.Load(), tt.maxHits)
			}
		})
	}

	// The Host header names the identifier (with the non-default port).
	l := NewLocal(LocalOptions{Resolver: dnsSrv.Addr, HTTPPort: httpPort})
	if v := l.Validate(context.Background(), httpReq("ok.test")); !v.OK {
		t.Fatalf("%+v", v.Problem)
	}
	if got, want := lastHost.Load(), fmt.Sprintf("ok.test:%d", httpPort); got != want {
		t.Errorf("Host %q, want %q", got, want)
	}
}

// srvAddr is the local address a request arrived on.
func srvAddr(r *http.Request) string {
	return r.Context().Value(http.LocalAddrContextKey).(net.Addr).String()
}

// A resolver that does not answer is bounded by the timeout.
func TestHTTP01SlowResolver(t *testing.T) {
	dnsSrv := dnstest.Start(t)
	dnsSrv.SetA("ok.test", "127.0.0.1")
	dnsSrv.SetDelay(2 * time.Second)
	l := NewLocal(LocalOptions{Resolver: dnsSrv.Addr, HTTPPort: closedPort(t), Timeout: 300 * time.Millisecond})
	start := time.Now()
	v := l.Validate(context.Background(), httpReq("ok.test"))
	if v.OK || v.Problem.Type != ProblemDNS {
		t.Fatalf("%+v", v.Problem)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

// TestHTTP01RedirectNoEcho: the body of a response that came through a
// redirect (anywhere on the validator's network the redirect points at)
// is not quoted back in the problem, which goes to the ACME client; the
// body of the challenge URL itself still is, to help its owner.
func TestHTTP01RedirectNoEcho(t *testing.T) {
	const secret = "internal-secret-7f3a"
	dnsSrv := dnstest.Start(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.ToLower(strings.Split(r.Host, ":")[0]) {
		case "leak.test":
			http.Redirect(w, r, "http://intranet.test:"+strings.Split(r.Host, ":")[1]+"/admin/keys", http.StatusFound)
		case "intranet.test":
			fmt.Fprint(w, secret)
		case "own.test":
			fmt.Fprint(w, "not-the-key-authorization")
		}
	}))
	defer srv.Close()
	for _, n := range []string{"leak.test", "intranet.test", "own.test"} {
		dnsSrv.SetA(n, "127.0.0.1")
	}
	l := NewLocal(LocalOptions{Name: "here", Resolver: dnsSrv.Addr, HTTPPort: port(t, srv.URL), Timeout: 3 * time.Second})
	v := l.Validate(context.Background(), httpReq("leak.test"))
	if v.OK || v.Problem.Type != ProblemIncorrectResponse || strings.Contains(v.Problem.Detail, secret) {
		t.Fatalf("redirected: %+v", v.Problem)
	}
	v = l.Validate(context.Background(), httpReq("own.test"))
	if v.OK || !strings.Contains(v.Problem.Detail, "not-the-key-authorization") {
		t.Fatalf("own answer: %+v", v.Problem)
	}
}
