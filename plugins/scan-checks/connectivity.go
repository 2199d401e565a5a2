package scanchecks

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/pkid/pkid/sdk"
)

func connectivityFamily() *family {
	return &family{name: "Connectivity", desc: "Scans for basic connectivity with the host through DNS, TCP and TLS", checks: []*check{
		{"DNSLookup", "Host can be resolved through DNS", dnsLookup},
		{"CloudFlareStatus", "Host's addresses are in Cloudflare's published ranges (a list built into pkid, not fetched)", cloudflareStatus},
		{"TCPDial", "Host accepts TCP connections", tcpDial},
		{"TLSDial", "Host can complete a TLS handshake; Warning if only without certificate verification", tlsDial},
		{"IPv4", "Every IPv4 address of the host accepts TCP connections (Skipped if it has none)", ipFamily(false)},
		{"IPv6", "Every IPv6 address of the host accepts TCP connections (Skipped if it has none)", ipFamily(true)},
	}}
}

func dnsLookup(ctx context.Context, e *env) error {
	addrs, err := e.t.addrs(ctx)
	if e.t.ip != "" {
		// The caller's IP replaces resolution for the other checks; this
		// one still reports what the name resolves to.
		addrs, err = (&target{name: e.t.name}).addrs(ctx)
	}
	if err != nil {
		return e.fail(err)
	}
	return e.emit(sdk.GradeGood, "", addrs)
}

// cloudflareRanges are the ranges Cloudflare publishes at
// https://www.cloudflare.com/ips/ (the list unchanged since 2021). CFSSL
// downloads them on each run; pkid dials nothing but the target, so it
// carries them.
var cloudflareRanges = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range strings.Fields(`
173.245.48.0/20 103.21.244.0/22 103.22.200.0/22 103.31.4.0/22 141.101.64.0/18
108.162.192.0/18 190.93.240.0/20 188.114.96.0/20 197.234.240.0/22 198.41.128.0/17
162.158.0.0/15 104.16.0.0/13 104.24.0.0/14 172.64.0.0/13 131.0.72.0/22
2400:cb00::/32 2606:4700::/32 2803:f800::/32 2405:b500::/32 2405:8100::/32 2a06:98c0::/29 2c0f:f248::/32`) {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

func inCloudflare(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, p := range cloudflareRanges {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

func cloudflareStatus(_ context.Context, e *env) error {
	status := map[string]bool{}
	var outside []string
	for _, a := range e.addrs {
		status[a] = inCloudflare(a)
		if !status[a] {
			outside = append(outside, a)
		}
	}
	if len(outside) > 0 {
		return e.emit(sdk.GradeBad, fmt.Sprintf("not in Cloudflare's ranges: %s", strings.Join(outside, ", ")), status)
	}
	return e.emit(sdk.GradeGood, "", status)
}

func tcpDial(ctx context.Context, e *env) error {
	dctx, cancel := e.c.dialCtx(ctx)
	defer cancel()
	conn, err := e.c.dialTCP(dctx, e.addr())
	if err != nil {
		return e.fail(err)
	}
	conn.Close()
	return e.emit(sdk.GradeGood, "", nil)
}

func tlsDial(ctx context.Context, e *env) error {
	if _, err := e.c.goHandshake(ctx, e.addr(), e.c.tlsConfig(e.t, false)); err != nil {
		// Go's crypto/tls stops at TLS 1.0: a server that speaks only
		// SSL 3.0 still shakes hands with zcrypto.
		if _, zerr := e.c.chain(ctx, e.t, e.addr()); zerr != nil {
			return e.fail(err)
		}
		return e.emit(sdk.GradeBad, "handshake completes only with protocol versions or suites that current clients refuse", nil)
	}
	if _, err := e.c.goHandshake(ctx, e.addr(), e.c.tlsConfig(e.t, true)); err != nil {
		return e.emit(sdk.GradeWarning, "handshake succeeds only without verification: "+err.Error(), nil)
	}
	return e.emit(sdk.GradeGood, "", nil)
}

func ipFamily(v6 bool) func(context.Context, *env) error {
	label := "IPv4"
	if v6 {
		label = "IPv6"
	}
	return func(ctx context.Context, e *env) error {
		status := map[string]bool{}
		var failed []string
		for _, a := range e.addrs {
			ip := net.ParseIP(a)
			if ip == nil || (ip.To4() == nil) != v6 {
				continue
			}
			dctx, cancel := e.c.dialCtx(ctx)
			conn, err := e.c.dialTCP(dctx, e.t.dialAddr(a))
			cancel()
			status[a] = err == nil
			if err != nil {
				failed = append(failed, err.Error())
				continue
			}
			conn.Close()
		}
		switch {
		case len(status) == 0:
			return e.emit(sdk.GradeSkipped, "host has no "+label+" address", nil)
		case len(failed) > 0:
			return e.emit(sdk.GradeBad, strings.Join(failed, "; "), status)
		}
		return e.emit(sdk.GradeGood, "", status)
	}
}
