package scanchecks

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/pkid/pkid/sdk"
)

func TestParseHSTS(t *testing.T) {
	for _, c := range []struct {
		in      string
		maxAge  int64
		sub, pl bool
		err     string
	}{
		{in: "max-age=63072000; includeSubDomains; preload", maxAge: 63072000, sub: true, pl: true},
		{in: `max-age="31536000"`, maxAge: 31536000},
		{in: "MAX-AGE=0", maxAge: 0},
		{in: "  ; max-age=10 ;; ", maxAge: 10},
		{in: "includeSubDomains", err: "no max-age"},
		{in: "max-age=-1", err: "not a number"},
		{in: "max-age=abc", err: "not a number"},
		{in: "max-age", err: "not a number"},
		{in: "max-age=1; max-age=2", err: "repeated"},
		{in: "max-age=99999999999999999999", err: "not a number"},
	} {
		p, err := parseHSTS(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseHSTS(%q) = %+v, %v; want an error containing %q", c.in, p, err, c.err)
			}
			continue
		}
		if err != nil || p.MaxAge != c.maxAge || p.IncludeSubDomains != c.sub || p.Preload != c.pl {
			t.Errorf("parseHSTS(%q) = %+v, %v", c.in, p, err)
		}
	}
}

func FuzzParseHSTS(f *testing.F) {
	for _, s := range []string{"max-age=63072000; includeSubDomains; preload", `max-age="1"`, "max-age=1;max-age=2", ";;", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseHSTS(s)
		if err == nil && (p.MaxAge < 0 || p.Header != s) {
			t.Fatalf("parseHSTS(%q) = %+v", s, p)
		}
	})
}

func TestParseTarget(t *testing.T) {
	for _, c := range []struct {
		host, ip   string
		name, port string
		err        bool
	}{
		{host: "example.com", name: "example.com", port: "443"},
		{host: "example.com:8443", name: "example.com", port: "8443"},
		{host: "127.0.0.1:1", name: "127.0.0.1", port: "1"},
		{host: "[::1]:443", name: "::1", port: "443"},
		{host: "[::1]", name: "::1", port: "443"},
		{host: "under_score.example.", name: "under_score.example.", port: "443"},
		{host: "localhost", ip: "127.0.0.2", name: "localhost", port: "443"},
		{host: "", err: true},
		{host: ":443", err: true},
		{host: "bad host:443", err: true},
		{host: "127.0.0.1:0", err: true},
		{host: "127.0.0.1:65536", err: true},
		{host: "127.0.0.1:-1", err: true},
		{host: "-lead.example", err: true},
		{host: "a..b", err: true},
		{host: strings.Repeat("a", 64) + ".example", err: true},
		{host: "10.0.0.0/8", err: true},
		{host: "localhost", ip: "not-an-ip", err: true},
		{host: "http://example.com/", err: true},
	} {
		tg, err := parseTarget(sdk.ScanRequest{Host: c.host, IP: c.ip})
		if c.err {
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("parseTarget(%q, %q) = %+v, %v; want ErrInvalidArgument", c.host, c.ip, tg, err)
			}
			continue
		}
		if err != nil || tg.name != c.name || tg.port != c.port {
			t.Errorf("parseTarget(%q, %q) = %+v, %v; want %s port %s", c.host, c.ip, tg, err, c.name, c.port)
		}
	}
}

// FuzzParseTarget: a Host and IP from an API caller either make a target
// with a valid port and a name without spaces or slashes, or fail with
// ErrInvalidArgument; never a panic.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"example.com:443", "[::1]:1", "bad host", "a:b:c", "127.0.0.1:99999", "%00"} {
		f.Add(s, "")
	}
	f.Add("localhost", "::1")
	f.Fuzz(func(t *testing.T, host, ip string) {
		tg, err := parseTarget(sdk.ScanRequest{Host: host, IP: ip})
		if err != nil {
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Fatalf("parseTarget(%q, %q): %v, not ErrInvalidArgument", host, ip, err)
			}
			return
		}
		n, perr := strconv.Atoi(tg.port)
		if perr != nil || n < 1 || n > 65535 || tg.name == "" || strings.ContainsAny(tg.name, " /\x00") {
			t.Fatalf("parseTarget(%q, %q) = %+v", host, ip, tg)
		}
	})
}

func TestInCloudflare(t *testing.T) {
	for ip, want := range map[string]bool{
		"104.16.132.229": true, "172.64.0.1": true, "2606:4700::6810:84e5": true, "::ffff:104.16.0.1": true,
		"127.0.0.1": false, "8.8.8.8": false, "2001:db8::1": false, "not-an-ip": false,
	} {
		if got := inCloudflare(ip); got != want {
			t.Errorf("inCloudflare(%s) = %v, want %v", ip, got, want)
		}
	}
}
