package scanchecks

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/pkid/pkid/sdk"
)

// maxHeaderBytes bounds what HSTS reads of the response.
const maxHeaderBytes = 64 << 10

// hstsMinAge is the age below which HSTS is graded Warning: six months,
// hstspreload.org's floor for a policy that protects.
const hstsMinAge = 15768000

func httpFamily() *family {
	return &family{name: "HTTP", desc: "Scans the HTTP service behind TLS", checks: []*check{
		{"HSTS", "Host sends Strict-Transport-Security with a max-age of at least six months", hsts},
	}}
}

// hstsPolicy is a parsed Strict-Transport-Security header (RFC 6797 6.1).
type hstsPolicy struct {
	Header            string `json:"header"`
	MaxAge            int64  `json:"max_age"`
	IncludeSubDomains bool   `json:"include_subdomains"`
	Preload           bool   `json:"preload"`
}

// parseHSTS parses a Strict-Transport-Security value; an error names what
// is malformed (a missing or bad max-age, a repeated directive).
func parseHSTS(v string) (*hstsPolicy, error) {
	p := &hstsPolicy{Header: v, MaxAge: -1}
	seen := map[string]bool{}
	for _, d := range strings.Split(v, ";") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		name, val, hasVal := strings.Cut(d, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		if seen[name] {
			return nil, fmt.Errorf("directive %q repeated", name)
		}
		seen[name] = true
		switch name {
		case "max-age":
			val = strings.Trim(strings.TrimSpace(val), `"`)
			n, err := strconv.ParseInt(val, 10, 64)
			if !hasVal || err != nil || n < 0 {
				return nil, fmt.Errorf("max-age %q is not a number of seconds", val)
			}
			p.MaxAge = n
		case "includesubdomains":
			p.IncludeSubDomains = true
		case "preload":
			p.Preload = true
		}
	}
	if p.MaxAge < 0 {
		return nil, fmt.Errorf("no max-age directive")
	}
	return p, nil
}

// errNoHTTP is a TLS service that does not answer HTTP.
var errNoHTTP = errors.New("no HTTP response")

// fetchHSTS sends GET / over TLS and returns the response's HSTS header
// ("" when absent); an error when no HTTP response came.
func (c *checker) fetchHSTS(ctx context.Context, e *env) (string, error) {
	dctx, cancel := c.dialCtx(ctx)
	defer cancel()
	raw, err := c.dialTCP(dctx, e.addr())
	if err != nil {
		return "", err
	}
	defer raw.Close()
	cfg := c.tlsConfig(e.t, false)
	cfg.NextProtos = []string{"http/1.1"}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(dctx); err != nil {
		return "", fmt.Errorf("TLS handshake with %s: %w", e.addr(), err)
	}
	host := e.t.name
	if e.t.port != "443" {
		host += ":" + e.t.port
	}
	if strings.Contains(e.t.name, ":") {
		host = "[" + e.t.name + "]:" + e.t.port
	}
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: pkid-scan\r\nConnection: close\r\n\r\n", host); err != nil {
		return "", fmt.Errorf("sending the HTTP request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.LimitReader(conn, maxHeaderBytes)), nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errNoHTTP, err)
	}
	resp.Body.Close()
	return resp.Header.Get("Strict-Transport-Security"), nil
}

func hsts(ctx context.Context, e *env) error {
	v, err := e.c.fetchHSTS(ctx, e)
	if err != nil {
		if errors.Is(err, errNoHTTP) {
			return e.emit(sdk.GradeSkipped, err.Error(), nil)
		}
		return e.fail(err)
	}
	if v == "" {
		return e.emit(sdk.GradeWarning, "no Strict-Transport-Security header", nil)
	}
	p, err := parseHSTS(v)
	if err != nil {
		return e.emit(sdk.GradeBad, "malformed Strict-Transport-Security header: "+err.Error(), map[string]string{"header": v})
	}
	if p.MaxAge < hstsMinAge {
		return e.emit(sdk.GradeWarning, fmt.Sprintf("HSTS max-age %d is below six months (%d)", p.MaxAge, hstsMinAge), p)
	}
	return e.emit(sdk.GradeGood, "", p)
}
